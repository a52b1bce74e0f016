import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  ApplyResult,
  ChangeCounts,
  Engine,
  EngineOperationOptions,
  Plan,
  PlannedStep,
  StackRequest,
} from "./engine.js";
import { CancelledError, RetryableError, SpecError, StalledError } from "./errors.js";
import type { ReconcilerEventName, ReconcilerEvents } from "./events.js";
import { PROVENANCE_ENV, Reconciler, type ReconcilerOptions } from "./reconciler.js";
import type { Source, SourceRef } from "./source.js";
import type { TargetSpec } from "./spec.js";
import { SqliteStore } from "./store.js";

const REV_A = "a".repeat(40);
const REV_B = "b".repeat(40);

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves to the promise's value, or "pending" when it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([promise, new Promise<"pending">((r) => setTimeout(() => r("pending"), ms))]);
}

function counts(extra: Partial<ChangeCounts> = {}): ChangeCounts {
  return { create: 0, update: 0, delete: 0, replace: 0, same: 0, ...extra };
}

function planOf(same: number, ...steps: [PlannedStep["op"], string][]): Plan {
  const c = counts({ same });
  const planned = steps.map(([op, type], i): PlannedStep => {
    c[op]++;
    return { op, type, urn: `urn:pulumi:dev::site::${type}::r${i}` };
  });
  return { counts: c, steps: planned, changes: planned.length > 0 };
}

/** A source whose ref points wherever the test says; records what it was asked. */
class FakeSource implements Source {
  revision = REV_A;
  resolves = 0;
  readonly checkouts: { ref: string; revision: string; dir: string; previous: string | undefined }[] = [];
  checkoutError: Error | undefined;

  async resolve(_source: SourceRef): Promise<string> {
    this.resolves++;
    return this.revision;
  }

  async checkout(source: SourceRef, revision: string, dir: string, previous?: string): Promise<void> {
    this.checkouts.push({ ref: source.ref, revision, dir, previous });
    if (this.checkoutError) throw this.checkoutError;
    mkdirSync(dir, { recursive: true });
  }

  async changedFiles(): Promise<string[] | undefined> {
    return [];
  }
}

type Op = "preview" | "up" | "destroy" | "recover";

interface EngineCall {
  readonly op: Op;
  readonly request: StackRequest;
  readonly options: EngineOperationOptions | undefined;
  /** Aborted when the run was cancelled. */
  readonly signal: AbortSignal | undefined;
}

/**
 * An engine that records every call. With `hold`, each call waits until the
 * test releases it, and gives up with a CancelledError when its signal aborts.
 */
class FakeEngine implements Engine {
  readonly calls: EngineCall[] = [];
  readonly held: { call: EngineCall; release: () => void }[] = [];
  hold = false;
  plan: Plan = planOf(2);
  /** Thrown by the next previews, one per call, before the plan is returned. */
  readonly previewErrors: Error[] = [];

  ops(): Op[] {
    return this.calls.map((c) => c.op);
  }

  count(op: Op): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  /** Releases the oldest held call. */
  release(): void {
    const next = this.held.shift();
    if (!next) throw new Error("no engine call is held");
    next.release();
  }

  async #enter(op: Op, request: StackRequest, options: EngineOperationOptions | undefined): Promise<void> {
    const call: EngineCall = { op, request, options, signal: options?.signal };
    this.calls.push(call);
    if (!this.hold) return;
    const gate = deferred();
    this.held.push({ call, release: gate.resolve });
    const signal = options?.signal;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new CancelledError(`cancelled: ${String(signal?.reason)}`));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      gate.promise.then(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  async preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    await this.#enter("preview", request, options);
    const error = this.previewErrors.shift();
    if (error) throw error;
    return this.plan;
  }

  async up(request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult> {
    await this.#enter("up", request, options);
    return { counts: { ...this.plan.counts, same: this.plan.counts.same }, outputs: { url: "https://site" } };
  }

  async destroy(request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult> {
    await this.#enter("destroy", request, options);
    return { counts: counts({ delete: this.plan.counts.same }), outputs: {} };
  }

  async recover(request: StackRequest, options?: EngineOperationOptions): Promise<string[]> {
    await this.#enter("recover", request, options);
    return ["removed a stale lock"];
  }

  async outputs(): Promise<Record<string, unknown>> {
    return {};
  }
}

describe("Reconciler with a fake engine and source", () => {
  let dir: string;
  let engine: FakeEngine;
  let source: FakeSource;
  let reconciler: Reconciler | undefined;
  let events: { name: ReconcilerEventName; payload: unknown }[];

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name: "site",
    repo: "https://example.com/infra.git",
    stack: "dev",
    passphrase: "test-passphrase",
    interval: "1h",
    resync: "1h",
    ...overrides,
  });

  const create = async (options: Partial<ReconcilerOptions> = {}): Promise<Reconciler> => {
    reconciler = await Reconciler.create({
      dataDir: join(dir, "data"),
      engine,
      source,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [spec()],
      ...options,
    });
    for (const name of [
      "run.started",
      "run.finished",
      "drift.detected",
      "revision.applied",
      "gate.refused",
      "stalled",
      "recovered",
    ] as const) {
      reconciler.on(name, (payload) => events.push({ name, payload }));
    }
    return reconciler;
  };

  const eventsNamed = <K extends ReconcilerEventName>(name: K): ReconcilerEvents[K][] =>
    events.filter((e) => e.name === name).map((e) => e.payload as ReconcilerEvents[K]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-reconciler-"));
    engine = new FakeEngine();
    source = new FakeSource();
    events = [];
    reconciler = undefined;
  });

  afterEach(async () => {
    // Let anything still held finish so stop() does not wait for the grace period.
    engine.hold = false;
    while (engine.held.length > 0) engine.release();
    await reconciler?.stop({ graceMs: 100 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  describe("create", () => {
    it("rejects two targets with the same name", async () => {
      await expect(
        Reconciler.create({
          dataDir: dir,
          engine,
          source,
          store: new SqliteStore(":memory:"),
          targets: [spec(), spec({ stack: "prod" })],
        }),
      ).rejects.toThrowError(/target "site": `name` is used by more than one target/);
    });

    it.each([[0], [-1], [1.5], [Number.NaN]])("rejects a concurrency of %d", async (concurrency) => {
      const attempt = Reconciler.create({ dataDir: dir, engine, source, concurrency });
      await expect(attempt).rejects.toBeInstanceOf(SpecError);
      await expect(attempt).rejects.toThrowError(
        new RegExp(`\`concurrency\` must be a whole number of at least 1, got ${concurrency}`),
      );
    });

    it("rejects a missing data directory and a bad target spec", async () => {
      await expect(Reconciler.create({ dataDir: "", engine, source })).rejects.toThrowError(/`dataDir`/);
      await expect(
        Reconciler.create({
          dataDir: dir,
          engine,
          source,
          store: new SqliteStore(":memory:"),
          targets: [spec({ interval: "1s" })],
        }),
      ).rejects.toThrowError(/`interval` must be at least 10s.*got "1s"/);
    });
  });

  describe("deciding whether to run the engine", () => {
    it("skips the engine when the revision is unchanged, and a manual run forces it", async () => {
      const r = await create();
      const first = await r.reconcile("site");
      expect(first.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["preview"]);

      const again = await r.reconcile("site", { trigger: "interval", force: false });
      expect(again.result).toBe("skipped");
      expect(engine.calls).toHaveLength(1);
      expect(source.resolves).toBe(2);
      // A skip is not history.
      expect(r.history("site").map((h) => h.id)).toEqual([first.id]);

      const manual = await r.reconcile("site");
      expect(manual.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["preview", "preview"]);
    });

    it("applies a new revision and hands the engine everything the target declares", async () => {
      const r = await create({
        targets: [
          spec({
            path: "stacks/site",
            config: { replicas: 2 },
            secretConfig: { apiToken: "tok-secret-value" },
            env: { EXTRA: "1" },
          }),
        ],
      });
      engine.plan = planOf(1, ["create", "test:index:File"]);
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run).toMatchObject({ result: "applied", revision: REV_A, trigger: "webhook", drift: false });
      expect(engine.ops()).toEqual(["preview", "up"]);
      const request = engine.calls[0]?.request as StackRequest;
      expect(request.workDir).toBe(join(dir, "data", "work", "site", "stacks", "site"));
      expect(request.stack).toBe("dev");
      expect(request.backend).toBe(`file://${join(dir, "data")}/state`);
      expect(request.config).toEqual({ replicas: "2" });
      expect(request.secretConfig).toEqual({ apiToken: "tok-secret-value" });
      expect(request.env).toMatchObject({
        EXTRA: "1",
        PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
        [PROVENANCE_ENV.commit]: REV_A,
        [PROVENANCE_ENV.repo]: "https://example.com/infra.git",
        [PROVENANCE_ENV.path]: "stacks/site",
      });
      expect(engine.calls[0]?.options?.refresh).toBe(true);
      expect(source.checkouts[0]).toMatchObject({ ref: "main", revision: REV_A, previous: undefined });

      const status = r.status("site");
      expect(status.lastAppliedRevision).toBe(REV_A);
      expect(status.outputs).toEqual({ url: "https://site" });
      expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: true,
        reason: "Applied",
      });
      expect(eventsNamed("revision.applied")).toEqual([{ target: "site", revision: REV_A }]);

      // The next revision is checked out against the applied one, so a rewrite is caught.
      source.revision = REV_B;
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("applied");
      expect(source.checkouts[1]).toMatchObject({ revision: REV_B, previous: REV_A });
    });

    it("runs an unchanged revision again when a resync is due", async () => {
      const r = await create({ targets: [spec({ resync: "10s" })] });
      await r.reconcile("site");
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      // Pretend the last drift check was long ago.
      const store = new SqliteStore(join(dir, "data", "driftless.db"));
      const status = store.getStatus("site");
      store.putStatus({
        ...(status as NonNullable<typeof status>),
        lastDriftCheckAt: "2000-01-01T00:00:00.000Z",
      });
      store.close();
      expect((await r.reconcile("site", { trigger: "resync", force: false })).result).toBe("unchanged");
      expect(engine.count("preview")).toBe(2);
    });
  });

  describe("queueing", () => {
    it("coalesces requests during a run into one queued run, losing none", async () => {
      const r = await create();
      engine.hold = true;
      const running = r.request("site");
      await until(() => engine.held.length === 1, "the first preview");
      const second = r.request("site", { trigger: "webhook", force: false });
      const third = r.request("site");
      expect(third.id).toBe(second.id);
      expect(second.id).not.toBe(running.id);
      expect(r.queueDepth).toBe(1);

      engine.release();
      expect((await running.done).result).toBe("unchanged");
      await until(() => engine.held.length === 1, "the queued preview");
      engine.release();
      const queued = await second.done;
      // The queued run took the strongest request: forced, so it ran despite the unchanged revision.
      expect(queued.result).toBe("unchanged");
      expect(await third.done).toEqual(queued);
      expect(engine.count("preview")).toBe(2);
      expect(
        r
          .history("site")
          .map((h) => h.id)
          .sort(),
      ).toEqual([running.id, second.id].sort());
    });

    it("runs targets one after another, in arrival order, with concurrency 1", async () => {
      const r = await create({
        concurrency: 1,
        targets: [spec({ name: "a" }), spec({ name: "b", stack: "b" }), spec({ name: "c", stack: "c" })],
      });
      engine.hold = true;
      const order = ["c", "a", "b"];
      const runs = order.map((name) => r.request(name));
      const started: string[] = [];
      for (let i = 0; i < order.length; i++) {
        await until(() => engine.held.length === 1, `preview ${i + 1}`);
        // Only one run at a time.
        await new Promise((res) => setTimeout(res, 20));
        expect(engine.held).toHaveLength(1);
        started.push(engine.held[0]?.call.request.workDir.split("/").at(-1) as string);
        engine.release();
        await runs[i]?.done;
      }
      expect(started).toEqual(order);
      expect(r.queueDepth).toBe(0);
    });
  });

  describe("modes", () => {
    it("reports drift in detect mode and never applies", async () => {
      const r = await create({ targets: [spec({ mode: "detect" })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
      engine.plan = planOf(1, ["update", "test:index:File"]);
      const run = await r.reconcile("site");
      expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: REV_A });
      expect(engine.count("up")).toBe(0);
      expect(eventsNamed("drift.detected")).toEqual([
        { target: "site", revision: REV_A, counts: counts({ update: 1, same: 1 }) },
      ]);
      expect(r.status("site").conditions.find((c) => c.type === "Drifted")).toMatchObject({
        status: true,
        reason: "DriftDetected",
      });
    });

    it("corrects drift in apply mode", async () => {
      const r = await create();
      await r.reconcile("site");
      engine.plan = planOf(1, ["update", "test:index:File"]);
      const run = await r.reconcile("site");
      expect(run).toMatchObject({ result: "drift-corrected", drift: true });
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      expect(eventsNamed("drift.detected")).toHaveLength(1);
    });

    it("only plans in preview mode", async () => {
      const r = await create({ targets: [spec({ mode: "preview", refresh: false })] });
      engine.plan = planOf(0, ["create", "test:index:File"]);
      expect((await r.reconcile("site")).result).toBe("planned");
      expect(engine.ops()).toEqual(["preview"]);
      expect(engine.calls[0]?.options?.refresh).toBe(false);
    });
  });

  describe("gates and stalls", () => {
    it("stalls on a gate refusal and applies after approval", async () => {
      const r = await create();
      engine.plan = planOf(1, ["delete", "aws:rds/instance:Instance"]);
      const refused = await r.reconcile("site");
      expect(refused.result).toBe("stalled");
      expect(refused.error).toMatch(/protected type/);
      expect(engine.count("up")).toBe(0);
      expect(eventsNamed("gate.refused")).toEqual([
        expect.objectContaining({ target: "site", revision: REV_A, gate: "protected-type" }),
      ]);
      expect(eventsNamed("stalled")).toEqual([
        expect.objectContaining({ reason: "GateRefused", revision: REV_A }),
      ]);
      const stalled = r.status("site");
      expect(stalled.stalledRevision).toBe(REV_A);
      expect(stalled.conditions.find((c) => c.type === "Stalled")).toMatchObject({
        status: true,
        reason: "GateRefused",
      });

      // The scheduler leaves a refused revision alone.
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.count("preview")).toBe(1);

      const approved = await r.approve("site").done;
      expect(approved.result).toBe("applied");
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      const after = r.status("site");
      expect(after.stalledRevision).toBeUndefined();
      expect(after.approvedRevision).toBeUndefined();
      expect(after.lastAppliedRevision).toBe(REV_A);
      expect(eventsNamed("recovered")).toEqual([{ target: "site", revision: REV_A }]);
    });

    it("refuses to approve when nothing waits for approval", async () => {
      const r = await create();
      expect(() => r.approve("site")).toThrowError(/has no revision waiting for approval/);
    });

    it("stalls on a program error and skips the same revision until a new one", async () => {
      const r = await create();
      engine.previewErrors.push(new StalledError("ProgramFailed", "SyntaxError: Unexpected token"));
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run).toMatchObject({ result: "stalled", error: "SyntaxError: Unexpected token" });
      expect(r.status("site").stalledRevision).toBe(REV_A);

      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.count("preview")).toBe(1);

      source.revision = REV_B;
      engine.plan = planOf(1, ["update", "test:index:File"]);
      expect((await r.reconcile("site", { trigger: "webhook", force: false })).result).toBe("applied");
      expect(r.status("site").stalledRevision).toBeUndefined();
      expect(eventsNamed("recovered")).toEqual([{ target: "site", revision: REV_B }]);
    });

    it("stalls when the source refuses a rewritten ref, without running the engine", async () => {
      const r = await create();
      source.checkoutError = new StalledError("SourceRefRewritten", "ref moved (force-push)");
      const run = await r.reconcile("site");
      expect(run.result).toBe("stalled");
      expect(engine.calls).toHaveLength(0);
      expect(r.status("site").conditions.find((c) => c.type === "Stalled")?.reason).toBe(
        "SourceRefRewritten",
      );
    });

    it("keeps secrets out of the recorded error", async () => {
      const r = await create({ targets: [spec({ secretConfig: { apiToken: "tok-very-secret" } })] });
      engine.previewErrors.push(new StalledError("ProgramFailed", "failed calling api with tok-very-secret"));
      const run = await r.reconcile("site");
      expect(run.error).toBe("failed calling api with [redacted]");
      expect(JSON.stringify(r.history("site"))).not.toContain("tok-very-secret");
    });
  });

  describe("retries and cancellation", () => {
    it("retries a retryable failure with the retry trigger", async () => {
      const r = await create({ retryBaseMs: 10, retryMaxMs: 20 });
      engine.previewErrors.push(new RetryableError("the stack is locked by another update"));
      r.start();
      await until(() => eventsNamed("run.finished").length >= 2, "the retry");
      const finished = eventsNamed("run.finished");
      expect(finished[0]).toMatchObject({ result: "failed", error: "the stack is locked by another update" });
      expect(finished[1]).toMatchObject({ result: "unchanged" });
      expect(eventsNamed("run.started").map((e) => e.trigger)).toEqual(["startup", "retry"]);
      expect(r.status("site").conditions.find((c) => c.type === "Ready")?.status).toBe(true);
    });

    it("does not retry without the scheduler", async () => {
      const r = await create({ retryBaseMs: 10, retryMaxMs: 20 });
      engine.previewErrors.push(new RetryableError("busy"));
      expect((await r.reconcile("site")).result).toBe("failed");
      await new Promise((res) => setTimeout(res, 100));
      expect(engine.count("preview")).toBe(1);
    });

    it("cancels a run that exceeds its timeout through the engine's signal", async () => {
      const r = await create({ targets: [spec({ timeout: "1s" })] });
      engine.hold = true;
      const started = Date.now();
      const run = await r.reconcile("site");
      expect(run.result).toBe("cancelled");
      expect(run.error).toMatch(/exceeded its timeout of 1s/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(engine.calls[0]?.signal?.aborted).toBe(true);
      expect(r.status("site").conditions.find((c) => c.type === "Ready")?.reason).toBe("Cancelled");
    });

    it("cancels a run through the caller's AbortSignal", async () => {
      const r = await create();
      engine.hold = true;
      const controller = new AbortController();
      const queued = r.request("site", { signal: controller.signal });
      await until(() => engine.held.length === 1, "the preview");
      controller.abort(new Error("user cancelled"));
      expect((await queued.done).result).toBe("cancelled");
    });

    it("cancels in-flight runs when stop's grace period ends", async () => {
      const r = await create();
      engine.hold = true;
      const queued = r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const signal = engine.held[0]?.call.signal as AbortSignal;
      const clean = await r.stop({ graceMs: 50 });
      expect(clean).toBe(false);
      expect(signal.aborted).toBe(true);
      expect((await queued.done).result).toBe("cancelled");
      expect(r.ready).toBe(false);
      expect(() => r.request("site")).toThrowError(/stopped/);
    });

    it("settles a queued run as skipped on stop instead of starting it", async () => {
      const r = await create();
      engine.hold = true;
      const running = r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const queued = r.request("site");
      const stopping = r.stop({ graceMs: 5000 });
      engine.hold = false;
      engine.release();
      expect(await stopping).toBe(true);
      expect((await running.done).result).toBe("unchanged");
      const settled = await within(queued.done, 1000);
      expect(settled).not.toBe("pending");
      expect(settled).toMatchObject({ result: "skipped" });
      expect(engine.count("preview")).toBe(1);
    });
  });

  describe("removing targets", () => {
    it("destroys the stack on removal with destroyOnRemove", async () => {
      const r = await create({ targets: [spec({ destroyOnRemove: true })] });
      await r.reconcile("site");
      const destroyed = await r.removeTarget("site");
      expect(destroyed?.result).toBe("destroyed");
      expect(engine.ops()).toEqual(["preview", "destroy"]);
      expect(engine.calls[1]?.request.stack).toBe("dev");
      expect(r.targets()).toEqual([]);
      expect(() => r.status("site")).toThrowError(/unknown target "site"/);
    });

    it("leaves the stack alone on removal without destroyOnRemove", async () => {
      const r = await create();
      await r.reconcile("site");
      expect(await r.removeTarget("site")).toBeUndefined();
      expect(engine.count("destroy")).toBe(0);
      expect(r.target("site")).toBeUndefined();
    });

    it("keeps the target when the destroy fails", async () => {
      const r = await create({ targets: [spec({ destroyOnRemove: true })] });
      engine.destroy = async () => {
        throw new StalledError("ProgramFailed", "cannot delete");
      };
      const result = await r.removeTarget("site");
      expect(result?.result).toBe("stalled");
      expect(r.target("site")).toBeDefined();
    });

    it("settles a run still queued for a removed target", async () => {
      const r = await create();
      engine.hold = true;
      const running = r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const queued = r.request("site");
      const removing = r.removeTarget("site");
      engine.hold = false;
      engine.release();
      expect(await removing).toBeUndefined();
      expect((await running.done).result).toBe("unchanged");
      // QueuedRun.done "settles when the run finished; never rejects": it must not hang.
      const settled = await within(queued.done, 1000);
      expect(settled).not.toBe("pending");
      expect(engine.count("preview")).toBe(1);
    });
  });

  describe("crash recovery", () => {
    it("recovers the stack before the next run after a crash mid-run", async () => {
      const dataDir = join(dir, "data");
      // A previous process applied REV_A, then died during a run.
      const crashed = new SqliteStore(join(dataDir, "driftless.db"));
      const now = new Date().toISOString();
      crashed.putStatus({
        name: "site",
        conditions: [],
        lastAppliedRevision: REV_A,
        lastDriftCheckAt: now,
        updatedAt: now,
      });
      crashed.startRun({
        id: "crashed-run",
        target: "site",
        trigger: "interval",
        startedAt: now,
        drift: false,
        log: "",
      });
      crashed.close();

      const r = await create();
      expect(r.run("crashed-run")).toMatchObject({ result: "interrupted" });
      // Unchanged and recently checked, but the interrupted run forces a run that recovers first.
      const run = await r.reconcile("site", { trigger: "interval", force: false });
      expect(run.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["recover", "preview"]);
      expect(run.log).toMatch(/\[recover\] removed a stale lock/);

      await r.reconcile("site");
      expect(engine.ops()).toEqual(["recover", "preview", "preview"]);
    });

    it("does not recover when the last process finished its runs", async () => {
      const r = await create();
      await r.reconcile("site");
      expect(engine.count("recover")).toBe(0);
    });
  });
});
