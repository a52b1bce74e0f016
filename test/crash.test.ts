// A reconciler process killed with SIGKILL in the middle of `up` (engine and
// all) leaves a stale stack lock and a pending create behind. The next process
// marks the run interrupted, clears both, and finishes the job without
// duplicating a resource.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const child = fileURLToPath(new URL("./support/crashChild.mjs", import.meta.url));

function stackCheckpoint(stateDir: string): { type: string; urn: string }[] {
  const stacks = join(stateDir, ".pulumi", "stacks");
  const files = readdirSync(stacks, { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith("dev.json"),
  );
  const checkpoint = JSON.parse(readFileSync(join(stacks, files[0] as string), "utf8"));
  return checkpoint.checkpoint.latest?.resources ?? [];
}

function lockFiles(stateDir: string): string[] {
  const locks = join(stateDir, ".pulumi", "locks");
  if (!existsSync(locks)) return [];
  return readdirSync(locks, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
}

describe("recovery after the reconciler is killed during up", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let target: TargetSpec;
  let dataDir: string;

  beforeAll(() => {
    sandbox = engineSandbox();
    dataDir = join(sandbox.dir, "data");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed() });
    repo.commit(
      {
        "site.json": JSON.stringify({
          "index.html": "<h1>v1</h1>",
          "slow.html": { content: "slow", delayMs: 6000 },
        }),
      },
      "a site with a slow page",
    );
    target = {
      name: "site",
      repo: repo.fileUrl,
      stack: "dev",
      passphrase: "test-passphrase",
      config: { outDir: join(sandbox.dir, "site") },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    };
  });

  afterAll(() => sandbox?.dispose());

  it("clears the stale lock and pending operations, then applies", async () => {
    const proc = spawn(process.execPath, [child, JSON.stringify({ dataDir, target })], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...sandbox.env },
    });
    let output = "";
    const killed = new Promise<void>((resolve, reject) => {
      proc.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        // Only engine events after `up` began count: the preview reports the same creates.
        const afterUp = output.split("STEP up")[1];
        if (afterUp !== undefined && /ENGINE create \S+slow\.html/.test(afterUp)) {
          // The slow create is in flight inside the engine: kill the whole process group.
          proc.stdout.removeAllListeners("data");
          setTimeout(() => {
            process.kill(-(proc.pid as number), "SIGKILL");
            resolve();
          }, 1500);
        }
      });
      proc.on("exit", () => reject(new Error(`the child exited before it could be killed:\n${output}`)));
    });
    await killed;
    await new Promise((r) => setTimeout(r, 500));

    const stateDir = join(dataDir, "state");
    expect(lockFiles(stateDir).length).toBeGreaterThan(0);

    const reconciler = await Reconciler.create({ dataDir, targets: [target], installDependencies: false });
    try {
      expect(reconciler.history("site")[0]?.result).toBe("interrupted");
      const run = await reconciler.reconcile("site");
      expect(run.error).toBeUndefined();
      expect(run.result).toBe("applied");
      expect(run.log).toMatch(/stale lock/);
      expect(lockFiles(stateDir)).toEqual([]);
      const files = stackCheckpoint(stateDir).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
      expect(files.map((r) => r.urn.split("::").at(-1)).sort()).toEqual(["index.html", "slow.html"]);
      expect(readFileSync(join(sandbox.dir, "site", "slow.html"), "utf8")).toBe("slow");
      // The next run finds nothing left to do.
      expect((await reconciler.reconcile("site")).result).toBe("unchanged");
    } finally {
      await reconciler.stop();
    }
  });
});
