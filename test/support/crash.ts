// For the tests that SIGKILL a reconciler in the middle of `up` and check what
// the next process recovers: a site with a page that is slow to create, and a
// reconcile run in a child process (crashChild.mjs) that can be killed, engine
// and all.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetSpec } from "@driftless/gitops";
import type { EngineSandbox } from "./engine.js";
import { createRepo, type TestRepo } from "./git.js";
import { leftoverProcesses } from "./processes.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./sitePrograms.js";
import { until } from "./wait.js";

const CHILD = fileURLToPath(new URL("./crashChild.mjs", import.meta.url));

/**
 * A repo in `sandbox` whose site has `slow.html`, a page that takes 6 s to
 * create, and the target `site` (stack `dev`) that deploys it to `<sandbox>/site`.
 */
export function slowSite(sandbox: EngineSandbox): { readonly repo: TestRepo; readonly target: TargetSpec } {
  const repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
  repo.commit(
    {
      "site.json": JSON.stringify({
        "index.html": "<h1>v1</h1>",
        "slow.html": { content: "slow", delayMs: 6000 },
      }),
    },
    "a site with a slow page",
  );
  const target: TargetSpec = {
    name: "site",
    repo: repo.fileUrl,
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir: join(sandbox.dir, "site") },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
  };
  return { repo, target };
}

/** What crashChild.mjs reconciles: `target` with its data in `dataDir` (and `store`, when given). */
export interface CrashChildInput {
  readonly dataDir: string;
  readonly target: TargetSpec;
  readonly store?: string;
}

/** A reconcile running in a child process; see {@link startCrashChild}. */
export interface CrashChild {
  /** What the child printed so far: `STEP <apply step>`, `ENGINE <op> <urn>`, `RESULT <result>`. */
  output(): string;
  /** Waits until `check` holds for the output; fails, showing the output, when the child exits first. */
  waitFor(check: (output: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /**
   * SIGKILLs the child's process group and waits until the child and every
   * process of the sandbox (the engine, which its reaper then kills) are gone.
   */
  kill(): Promise<void>;
}

/** Starts one reconcile of `input.target` in a child process of its own process group. */
export function startCrashChild(input: CrashChildInput, sandbox: EngineSandbox): CrashChild {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(input)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...sandbox.env },
  });
  let output = "";
  let errors = "";
  let exited = false;
  proc.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // Read, so a chatty child never blocks on a full pipe; shown when it exits early.
  proc.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  proc.on("exit", () => {
    exited = true;
  });
  return {
    output: () => output,
    async waitFor(check, what, timeoutMs = 120_000) {
      await until(() => exited || check(output), what, timeoutMs);
      if (!check(output)) throw new Error(`the child exited before ${what}:\n${output}${errors}`);
    },
    async kill() {
      process.kill(-(proc.pid as number), "SIGKILL");
      await until(() => exited, "the killed child's exit");
      await leftoverProcesses({ paths: [sandbox.dir] });
    },
  };
}

/**
 * Waits until `up` starts creating `slow.html` (the preview before it reports
 * the same create, so only what follows `STEP up` counts), lets the create run
 * for a moment so the engine has recorded it as pending, and kills the child.
 */
export async function killDuringSlowCreate(child: CrashChild): Promise<void> {
  await child.waitFor(
    (output) => /ENGINE create \S+slow\.html/.test(output.split("STEP up")[1] ?? ""),
    "the slow create inside up",
  );
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await child.kill();
}
