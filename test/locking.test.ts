// At most one mutating run per stack across processes that share a state
// backend: two reconciler processes reconcile the same stack at the same time.
// With a shared status database, the store's stack lease queues the second run
// before it touches the engine; with separate databases, Pulumi's own backend
// lock refuses the second update and the engine waits for it inside the run.
// Either way both runs succeed and the updates never overlap.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunRecord, TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, type ExpectStatic, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

const child = fileURLToPath(new URL("./support/lockingChild.mjs", import.meta.url));
const seed = fileURLToPath(new URL("./fixtures/slow-program/", import.meta.url));
const PASSPHRASE = "test-passphrase";

/** One create or update the provider made, from its journal. */
interface Write {
  readonly op: string;
  readonly writer: string;
  readonly start: number;
  readonly end: number;
}

function journal(path: string): { phase: string; writer: string; op: string; start: number; end?: number }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function writes(path: string): Write[] {
  return journal(path)
    .filter((e) => e.phase === "end")
    .map((e) => ({ op: e.op, writer: e.writer, start: e.start, end: e.end as number }))
    .sort((a, b) => a.start - b.start);
}

/** Fails when two writes overlap in time. */
function expectSerial(expect: ExpectStatic, list: readonly Write[]): void {
  for (let i = 1; i < list.length; i++) {
    const before = list[i - 1] as Write;
    const after = list[i] as Write;
    expect(
      after.start,
      `${after.writer}'s ${after.op} began before ${before.writer}'s ended`,
    ).toBeGreaterThanOrEqual(before.end);
  }
}

/** A reconciler in its own OS process (test/support/lockingChild.mjs). */
class Reconciling {
  readonly proc: ChildProcess;
  output = "";
  readonly ready: Promise<void>;
  readonly result: Promise<RunRecord>;

  constructor(
    args: { dataDir: string; storePath?: string; target: TargetSpec },
    env: Record<string, string>,
  ) {
    this.proc = spawn(process.execPath, [child, JSON.stringify(args)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    this.proc.stdout?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.proc.stderr?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => this.proc.on("exit", (code) => resolve(code)));
    this.ready = Promise.race([
      until(() => this.output.includes("READY\n"), "the reconciler process to start").then(() => undefined),
      exited.then((code) => {
        if (!this.output.includes("READY\n")) throw new Error(`exited with ${code}:\n${this.output}`);
      }),
    ]);
    this.result = exited.then((code) => {
      const line = this.output.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) throw new Error(`the reconciler process exited with ${code}:\n${this.output}`);
      return JSON.parse(line.slice("RESULT ".length)) as RunRecord;
    });
    // A test that fails early never awaits these; their failures are reported where awaited.
    this.ready.catch(() => undefined);
    this.result.catch(() => undefined);
  }

  /** Starts the run. */
  go(): void {
    this.proc.stdin?.end("go\n");
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

describe("two reconciler processes on one stack", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  const started: Reconciling[] = [];

  const spec = (stack: string, writer: string, delayMs: number): TargetSpec => ({
    name: "site",
    repo: repo.fileUrl,
    stack,
    backend: sandbox.backendUrl,
    passphrase: PASSPHRASE,
    // No refresh: the runs are quicker, and locking is the same.
    refresh: false,
    config: {
      outDir: join(sandbox.dir, `site-${stack}`),
      journal: join(sandbox.dir, `journal-${stack}.ndjson`),
      writer,
      delayMs: String(delayMs),
    },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
  });

  const start = (args: { dataDir: string; storePath?: string; target: TargetSpec }): Reconciling => {
    const process = new Reconciling(args, sandbox.env);
    started.push(process);
    return process;
  };

  beforeAll(() => {
    sandbox = engineSandbox("driftless-locking-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed });
    repo.commit({}, "a slow page");
  });

  afterAll(() => {
    // Processes a failed test left running.
    for (const process of started.splice(0)) process.stop();
    sandbox?.dispose();
  });

  // The two cases use separate stacks and run side by side to save time.

  it.concurrent(
    "queues the second run on the store's lease when the processes share a store",
    async ({ expect }) => {
      const storePath = join(sandbox.dir, "shared", "driftless.db");
      const a = start({ dataDir: join(sandbox.dir, "data-a"), storePath, target: spec("dev", "A", 1500) });
      const b = start({ dataDir: join(sandbox.dir, "data-b"), storePath, target: spec("dev", "B", 1500) });
      await Promise.all([a.ready, b.ready]);
      a.go();
      b.go();
      const runs = await Promise.all([a.result, b.result]);

      for (const run of runs) {
        expect(run.error).toBeUndefined();
        // Each writes its own content, so each has an update to apply.
        expect(run.result).toBe("applied");
      }
      const waiting = runs.filter((r) => /\[lock\] waiting for stack dev held by run/.test(r.log));
      expect(waiting).toHaveLength(1);
      const [waiter] = waiting as [RunRecord];
      const holder = runs.find((r) => r !== waiter) as RunRecord;
      expect(waiter.log).toContain(`held by run ${holder.id} of target site`);
      expect(holder.log).not.toMatch(/\[lock\]/);

      // The holder created the page, then the waiter updated it; never at the same time.
      const writerOf = (run: RunRecord) => (run === runs[0] ? "A" : "B");
      const list = writes(join(sandbox.dir, "journal-dev.ndjson"));
      expect(list.map((w) => `${w.writer} ${w.op}`)).toEqual([
        `${writerOf(holder)} create`,
        `${writerOf(waiter)} update`,
      ]);
      expectSerial(expect, list);
      expect(readFileSync(join(sandbox.dir, "site-dev", "page.html"), "utf8")).toBe(
        `<h1>${writerOf(waiter)}</h1>`,
      );
    },
  );

  it.concurrent(
    "is held back by the backend (its lock or its state) when each process has its own store",
    async ({ expect }) => {
      // The stack exists already, so the two processes race for its update, not its creation.
      mkdirSync(fileURLToPath(sandbox.backendUrl), { recursive: true });
      execFileSync(
        "pulumi",
        ["stack", "init", "qa", "--secrets-provider", "passphrase", "--non-interactive"],
        {
          cwd: repo.work,
          env: {
            ...process.env,
            ...sandbox.env,
            PULUMI_BACKEND_URL: sandbox.backendUrl,
            PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
          },
          stdio: "pipe",
        },
      );
      const c = start({ dataDir: join(sandbox.dir, "data-c"), target: spec("qa", "C", 1500) });
      const d = start({ dataDir: join(sandbox.dir, "data-d"), target: spec("qa", "D", 1500) });
      await Promise.all([c.ready, d.ready]);
      c.go();
      d.go();
      const runs = await Promise.all([c.result, d.result]);

      for (const run of runs) {
        expect(run.error).toBeUndefined();
        expect(run.result).toBe("applied");
        // No store lease is shared: the backend's lock is what queued one of them.
        expect(run.log).not.toMatch(/\[lock\]/);
      }
      const list = writes(join(sandbox.dir, "journal-qa.ndjson"));
      expect(list.map((w) => w.op)).toEqual(["create", "update"]);
      expectSerial(expect, list);
      const [first, second] = list as [Write, Write];
      const waiter = runs[second.writer === "C" ? 0 : 1] as RunRecord;
      // Held back by the backend either way: by Pulumi's lock when its `up` started while the other's
      // ran, or, when the other's update landed between its preview and `up`, by the state digest.
      expect(waiter.log).toMatch(
        /\[engine\] info: stack qa is locked by another update; waiting|\[apply\] the stack's state changed since the preview/,
      );
      expect(readFileSync(join(sandbox.dir, "site-qa", "page.html"), "utf8")).toBe(
        `<h1>${second.writer}</h1>`,
      );
      expect(first.writer).not.toBe(second.writer);
    },
  );
});
