// The reconciler's stack lease with a fake engine: reconcilers sharing one
// status database queue their runs of one stack instead of running them at once.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApplyResult, Engine, EngineOperationOptions, Plan, StackRequest } from "../engine/types.js";
import { CancelledError } from "../errors.js";
import type { Source } from "../git/source.js";
import { Reconciler } from "../reconciler.js";
import { until } from "../reconciler.test-support.js";
import type { TargetSpec } from "../spec/spec.js";
import { SqliteStore } from "../store/sqlite/store.js";

const REV = "a".repeat(40);
const PLAN: Plan = {
  counts: { create: 1, update: 0, delete: 0, replace: 0, same: 0 },
  steps: [{ op: "create", urn: "urn:pulumi:dev::site::x:y:Z::page", type: "x:y:Z" }],
  changes: true,
};

class FakeSource implements Source {
  async resolve(): Promise<string> {
    return REV;
  }
  async checkout(_source: unknown, _revision: string, dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
  }
  async changedFiles(): Promise<string[] | undefined> {
    return [];
  }
}

/** Records its calls; with `hold`, each call waits for `release()` (or its signal). */
class FakeEngine implements Engine {
  readonly ops: string[] = [];
  readonly held: (() => void)[] = [];
  hold = false;

  release(): void {
    this.hold = false;
    for (const release of this.held.splice(0)) release();
  }

  async #enter(op: string, options: EngineOperationOptions | undefined): Promise<void> {
    this.ops.push(op);
    if (!this.hold) return;
    await new Promise<void>((resolve, reject) => {
      options?.signal?.addEventListener("abort", () => reject(new CancelledError("cancelled")), {
        once: true,
      });
      this.held.push(resolve);
    });
  }

  async preview(_request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    await this.#enter("preview", options);
    return PLAN;
  }
  async up(_request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult> {
    await this.#enter("up", options);
    return { counts: PLAN.counts, outputs: {} };
  }
  async destroy(_request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult> {
    await this.#enter("destroy", options);
    return { counts: PLAN.counts, outputs: {} };
  }
  async recover(_request: StackRequest, options?: EngineOperationOptions): Promise<string[]> {
    await this.#enter("recover", options);
    return [];
  }
}

describe("stack leases between reconcilers", () => {
  let dir: string;
  const reconcilers: Reconciler[] = [];
  const engines: FakeEngine[] = [];

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name: "site",
    repo: "https://example.com/infra.git",
    stack: "dev",
    backend: `file://${join(dir, "state")}`,
    passphrase: "test-passphrase",
    interval: "1h",
    resync: "1h",
    ...overrides,
  });

  /** A reconciler with its own data directory on the shared status database. */
  const create = async (name: string, target: TargetSpec = spec()) => {
    const engine = new FakeEngine();
    engines.push(engine);
    const reconciler = await Reconciler.create({
      dataDir: join(dir, name),
      store: new SqliteStore(join(dir, "shared.db")),
      engine,
      source: new FakeSource(),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [target],
    });
    reconcilers.push(reconciler);
    const lockLines: string[] = [];
    reconciler.on("run.progress", (e) => {
      if (e.step === "lock") lockLines.push(e.message);
    });
    return { reconciler, engine, lockLines };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-locking-"));
  });

  afterEach(async () => {
    for (const engine of engines.splice(0)) engine.release();
    for (const reconciler of reconcilers.splice(0)) await reconciler.stop({ graceMs: 100 });
    rmSync(dir, { recursive: true, force: true });
  });

  it("queues a second reconciler's run of the same stack until the first ends", async () => {
    const first = await create("one");
    const second = await create("two");
    first.engine.hold = true;
    const running = await first.reconciler.request("site");
    await until(() => first.engine.held.length === 1, "the first run's preview");

    const waiting = second.reconciler.reconcile("site");
    await until(() => second.lockLines.length === 1, "the second run to wait");
    expect(second.lockLines[0]).toMatch(
      new RegExp(
        `^waiting for stack dev held by run ${running.id} of target site \\(owner .+:${process.pid}:`,
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(second.engine.ops).toEqual([]);
    // Waiting holds no engine slot: the reconciler's other stacks still run.
    second.reconciler.addTarget(spec({ name: "other", stack: "prod" }));
    expect((await second.reconciler.reconcile("other")).result).toBe("applied");

    first.engine.release();
    expect((await running.done).result).toBe("applied");
    const run = await waiting;
    expect(run.result).toBe("applied");
    expect(run.log).toMatch(/\[lock\] waiting for stack dev held by run/);
    expect(run.log).toMatch(/\[lock\] took the lease on stack dev/);
    expect(second.lockLines).toHaveLength(2);
  });

  it("runs different stacks, and the same stack name of another repository, side by side", async () => {
    const first = await create("one");
    const second = await create("two", spec({ repo: "https://example.com/other.git" }));
    first.engine.hold = true;
    const running = await first.reconciler.request("site");
    await until(() => first.engine.held.length === 1, "the first run's preview");
    expect((await second.reconciler.reconcile("site")).result).toBe("applied");
    expect(second.lockLines).toEqual([]);
    first.engine.release();
    await running.done;
  });

  it("cancels a waiting run through its signal without touching the engine", async () => {
    const first = await create("one");
    const second = await create("two");
    first.engine.hold = true;
    const running = await first.reconciler.request("site");
    await until(() => first.engine.held.length === 1, "the first run's preview");
    const controller = new AbortController();
    const waiting = second.reconciler.reconcile("site", { signal: controller.signal });
    await until(() => second.lockLines.length === 1, "the second run to wait");
    controller.abort(new Error("stop waiting"));
    expect((await waiting).result).toBe("cancelled");
    expect(second.engine.ops).toEqual([]);
    first.engine.release();
    expect((await running.done).result).toBe("applied");
    // The lease was released: the next run takes it without waiting.
    // (The fake plan always has changes; the same revision again counts as drift.)
    expect((await second.reconciler.reconcile("site")).result).toBe("drift-corrected");
    expect(second.lockLines).toHaveLength(1);
  });

  it.each([
    ["of the same target", "site"],
    ["of another process's target on the same stack", "site-elsewhere"],
  ])("takes over the lease of a dead process %s and recovers the stack first", async (_, holderTarget) => {
    const { reconciler, engine, lockLines } = await create("one");
    engine.hold = true;
    const first = await reconciler.request("site");
    await until(() => engine.held.length === 1, "the first run's preview");
    const db = new Database(join(dir, "shared.db"));
    const key = db.prepare("SELECT key FROM stack_locks").pluck().get() as string;
    expect(key).toBe(`file://${join(dir, "state")}#example.com/infra//.#dev`);
    engine.release();
    await first.done;

    // A process of this host died in the middle of a run of the stack, after
    // this reconciler opened the store.
    const dead = `${hostname()}:${spawnSync(process.execPath, ["-e", ""]).pid}:deadbeef`;
    const now = new Date().toISOString();
    db.prepare(
      `INSERT INTO stack_locks (key, owner, target, run_id, acquired_at, expires_at)
       VALUES (?, ?, ?, 'dead-run', ?, ?)`,
    ).run(key, dead, holderTarget, now, Date.now() + 60_000);
    db.prepare(
      `INSERT INTO runs (id, target, trigger, started_at, drift, log, owner)
       VALUES ('dead-run', ?, 'manual', ?, 0, '', ?)`,
    ).run(holderTarget, now, dead);
    db.close();

    engine.ops.length = 0;
    const run = await reconciler.reconcile("site");
    expect(run.result).toBe("drift-corrected");
    expect(engine.ops).toEqual(["recover", "preview", "up"]);
    expect(lockLines).toEqual([
      expect.stringMatching(
        `^took over the lease on stack dev from run dead-run of target ${holderTarget} \\(owner .+:deadbeef\\), which stopped; recovering first$`,
      ),
    ]);
    expect(run.log).toMatch(/\[lock\] took over the lease/);
    expect(await reconciler.run("dead-run")).toMatchObject({ result: "interrupted" });
  });
});
