import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cron } from "croner";
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

  describe("dependencies", () => {
    const chain = () => [
      spec({ name: "app", dependsOn: ["database"] }),
      spec({ name: "database", dependsOn: ["network"] }),
      spec({ name: "network" }),
    ];
    const targetOf = (call: { request: StackRequest }) => call.request.workDir.split("/").at(-1) as string;

    /** Every run has something to apply; `up` reports outputs named after the target and revision. */
    const applyingEngine = (outputs?: (target: string) => Record<string, unknown>) => {
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      const up = engine.up.bind(engine);
      engine.up = async (request, options) => {
        const applied = await up(request, options);
        const target = request.workDir.split("/").at(-1) as string;
        return {
          ...applied,
          outputs: outputs?.(target) ?? { id: `${target}-${source.revision.slice(0, 1)}`, meta: { n: 1 } },
        };
      };
    };

    it("accepts a dependency listed after its dependent", async () => {
      const r = await create({ targets: chain() });
      expect(r.target("app")?.dependsOn).toEqual(["database"]);
    });

    it("refuses an unknown dependency, naming it", async () => {
      await expect(
        create({ targets: [spec({ name: "app", dependsOn: ["netwrk"] }), spec({ name: "network" })] }),
      ).rejects.toThrowError(/target "app": `dependsOn\[0\]` names an unknown target .*got "netwrk"/);
      const r = await create();
      expect(() => r.addTarget(spec({ name: "app", dependsOn: ["site", "nope"] }))).toThrowError(SpecError);
      expect(r.target("app")).toBeUndefined();
    });

    it("refuses a cycle, naming it", async () => {
      const cyclic = [...chain().slice(0, 2), spec({ name: "network", dependsOn: ["app"] })];
      const error = await create({ targets: cyclic }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecError);
      expect((error as Error).message).toMatch(/dependsOn cycle: app → network → database → app/);
      const r = await create({ targets: chain() });
      expect(() => r.addTarget(spec({ name: "network", dependsOn: ["app"] }))).toThrowError(
        /dependsOn cycle: /,
      );
      expect(r.target("network")?.dependsOn).toEqual([]);
      expect(() => r.addTarget(spec({ name: "site", dependsOn: ["site"] }))).toThrowError(
        /dependsOn cycle: site → site/,
      );
    });

    it("runs dependents in order after a dependency's outputs change, passing them as config", async () => {
      const r = await create({ targets: chain() });
      applyingEngine();
      expect((await r.reconcile("network")).result).toBe("applied");
      await r.whenIdle();
      const ups = engine.calls.filter((c) => c.op === "up");
      expect(ups.map(targetOf)).toEqual(["network", "database", "app"]);
      expect(ups[1]?.request.config).toMatchObject({
        "deps.network.id": "network-a",
        "deps.network.meta": '{"n":1}',
      });
      expect(ups[2]?.request.config).toMatchObject({ "deps.database.id": "database-a" });
      expect(ups[2]?.request.config).not.toHaveProperty("deps.network.id");
      expect(r.history("database")[0]).toMatchObject({ trigger: "dependency", result: "applied" });
      expect(r.history("app")[0]).toMatchObject({ trigger: "dependency", result: "applied" });
    });

    it("does not queue dependents when a dependency's outputs are unchanged", async () => {
      const r = await create({ targets: chain().slice(1) });
      applyingEngine(() => ({ id: "same" }));
      await r.reconcile("network");
      await until(() => r.history("database").length === 1, "database's run");
      await until(() => r.queueDepth === 0 && engine.count("up") === 2, "the cascade");
      source.revision = REV_B;
      expect((await r.reconcile("network")).result).toBe("applied");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(r.history("database")).toHaveLength(1);
    });

    it("defers a run while a dependency is not ready, and runs it once the dependency is", async () => {
      const r = await create({ targets: chain().slice(1) });
      const deferred = await r.reconcile("database");
      expect(deferred.result).toBe("skipped");
      expect(deferred.log).toMatch(/deferred: dependency "network" is not ready/);
      expect(engine.calls).toHaveLength(0);
      expect(r.history("database")).toHaveLength(0);
      expect(r.status("database").conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: false,
        reason: "DependencyNotReady",
      });

      // The dependency applies without new outputs (nothing to apply): the
      // parked run is queued again with its own trigger.
      await r.reconcile("network");
      await until(() => r.history("database").length === 1, "database's run");
      await until(() => !!r.history("database")[0]?.finishedAt, "database's run to finish");
      expect(r.history("database")[0]).toMatchObject({ trigger: "manual", result: "unchanged" });
      expect(r.status("database").conditions.find((c) => c.type === "Ready")?.status).toBe(true);
      expect(eventsNamed("recovered").map((e) => e.target)).not.toContain("database");
    });

    it("defers a dependent while its dependency has a run in progress", async () => {
      const r = await create({ targets: chain().slice(1) });
      applyingEngine(() => ({ id: "same" }));
      await r.reconcile("network");
      await until(() => !!r.history("database")[0]?.finishedAt, "the first cascade");
      engine.hold = true;
      source.revision = REV_B;
      const network = r.request("network");
      await until(() => engine.held.length === 1, "network's preview");
      expect((await r.reconcile("database", { trigger: "webhook" })).log).toMatch(
        /dependency "network" has a run in progress/,
      );
      engine.hold = false;
      engine.release();
      await network.done;
      await until(() => r.history("database").length === 2, "database's second run");
      expect(r.history("database")[0]?.trigger).toBe("webhook");
    });

    it("waits for a dependency behind its revision once, without checking again in a loop", async () => {
      const r = await create({ targets: chain().map((t) => ({ ...t, path: t.name })) });
      applyingEngine();
      await r.reconcile("network");
      await r.whenIdle();
      source.revision = REV_B;
      // Only network's files changed between what it applied and REV_B.
      source.changedFiles = async () => ["network/index.ts"];
      Object.assign(source, { isAncestor: async () => false });
      const resolves = source.resolves;
      engine.hold = true;
      const waited = await r.request("app", { trigger: "interval", force: false }).done;
      expect(waited.log).toMatch(
        /dependency "network" applied a{12}, which is behind b{12} \(its files changed\)/,
      );
      // While network's engine work is held, the waiting targets are not checked again.
      await until(() => engine.held.length > 0, "network's preview");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(source.resolves - resolves).toBeLessThanOrEqual(3);
      engine.hold = false;
      while (engine.held.length > 0) engine.release();
      await r.whenIdle();
      const ups = engine.calls.filter((c) => c.op === "up").map(targetOf);
      expect(ups.slice(3)).toEqual(["network", "database", "app"]);
      expect(r.history("network")[0]).toMatchObject({ trigger: "dependency", revision: REV_B });
      // app's check, then network, database and app: no busy loop while they ran.
      expect(source.resolves - resolves).toBeLessThanOrEqual(5);
    });

    it("refuses to remove a target others depend on, and removes them together dependents first", async () => {
      const r = await create({ targets: chain().map((t) => ({ ...t, destroyOnRemove: true })) });
      await expect(r.removeTarget("network")).rejects.toThrowError(
        /cannot remove target "network": "database" depends on it; remove it first or together/,
      );
      await expect(r.removeTargets(["network", "database"])).rejects.toThrowError(/"app" depends on it/);
      expect(engine.count("destroy")).toBe(0);
      const destroyed = await r.removeTargets(["network", "app", "database"]);
      expect(destroyed.map((d) => d.target)).toEqual(["app", "database", "network"]);
      expect(engine.calls.map(targetOf)).toEqual(["app", "database", "network"]);
      expect(r.targets()).toEqual([]);
    });
  });

  describe("monorepo discovery", () => {
    it("adds one target per project directory of a discover entry, dependencies included", async () => {
      const checkout = source.checkout.bind(source);
      source.checkout = async (ref, revision, dir, previous) => {
        await checkout(ref, revision, dir, previous);
        for (const stack of ["database", "app"]) {
          mkdirSync(join(dir, "stacks", stack), { recursive: true });
          writeFileSync(join(dir, "stacks", stack, "Pulumi.yaml"), "name: x\n");
        }
      };
      const r = await create({
        targets: [spec({ name: "network" })],
        discover: [{ ...spec({ name: "stacks", dependsOn: ["network"] }), paths: "stacks/*" }],
      });
      expect(r.targets().map((t) => [t.name, t.path, t.dependsOn])).toEqual([
        ["network", ".", []],
        ["stacks-app", "stacks/app", ["network"]],
        ["stacks-database", "stacks/database", ["network"]],
      ]);
      expect(engine.calls).toEqual([]);
    });
  });

  describe("change windows", () => {
    // Open for one minute a year: any test run is outside it.
    const newYear = { allow: ["0 0 1 1 *"], duration: "1m", timezone: "UTC" };

    it("defers an up outside the change window until it opens, after the preview", async () => {
      const r = await create({ targets: [spec({ windows: newYear })] });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run.result).toBe("deferred");
      expect(run.log).toMatch(/outside the allow windows; changes wait until/);
      expect(engine.ops()).toEqual(["preview"]);
      const opensAt = new Cron("0 0 1 1 *", { timezone: "UTC", paused: true }).nextRun() as Date;
      const status = r.status("site");
      expect(status.deferredUntil).toBe(opensAt.toISOString());
      expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: false,
        reason: "OutsideChangeWindow",
      });
      expect(r.history("site")[0]).toMatchObject({ result: "deferred", counts: { update: 1 } });
      // Checks of the same revision wait for the window instead of planning again.
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.ops()).toEqual(["preview"]);
    });

    it("does not defer a plan without changes", async () => {
      const r = await create({ targets: [spec({ windows: newYear })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
    });

    it("applies outside the window with an override and records who and why", async () => {
      const r = await create({ targets: [spec({ windows: { deny: ["* * * * *"], duration: "1h" } })] });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const override = { by: "alice", reason: "hotfix" };
      const run = await r.reconcile("site", { override });
      expect(run).toMatchObject({ result: "applied", override });
      expect(run.log).toMatch(/change window overridden by alice: hotfix/);
      expect(r.history("site")[0]?.override).toEqual(override);
      expect(engine.ops()).toEqual(["preview", "up"]);
      expect(() => r.request("site", { override: { by: "bob", reason: " " } })).toThrowError(
        /`override` must say who \(`by`\) and why \(`reason`\)/,
      );
    });

    it("keeps a deferred change's window timer across a restart", async () => {
      const store = new SqliteStore(join(dir, "restart.db"));
      store.putStatus({
        name: "site",
        conditions: [],
        lastAttemptedRevision: REV_A,
        deferredUntil: new Date(Date.now() + 200).toISOString(),
        updatedAt: new Date().toISOString(),
      });
      const r = await create({ store });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      r.start();
      await until(() => r.history("site")[0]?.result === "applied", "the run at the window", 4000);
      expect(r.history("site").map((run) => run.trigger)).toEqual(["schedule"]);
    });

    it("keeps the window timer when the spec is replaced, and skips it while suspended", async () => {
      const deferred = (file: string, inMs: number) => {
        const store = new SqliteStore(join(dir, file));
        store.putStatus({
          name: "site",
          conditions: [],
          lastAttemptedRevision: REV_A,
          deferredUntil: new Date(Date.now() + inMs).toISOString(),
          updatedAt: new Date().toISOString(),
        });
        return store;
      };
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const r = await create({ store: deferred("replaced.db", 300) });
      r.start();
      r.addTarget(spec());
      await until(() => r.history("site")[0]?.result === "applied", "the run at the window", 4000);
      await r.stop();

      reconciler = undefined;
      const suspended = await create({
        store: deferred("suspended.db", 300),
        targets: [spec({ suspend: true })],
      });
      suspended.start();
      await new Promise((resolve) => setTimeout(resolve, 1600));
      expect(suspended.history("site")).toEqual([]);
    });

    it("runs the deferred change when the window opens", async () => {
      const opens = new Date(Date.now() + 2000);
      const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`;
      const r = await create({
        targets: [spec({ windows: { allow: [cron], duration: "1m", timezone: "UTC" } })],
      });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      r.start();
      await until(() => r.history("site")[0]?.result === "deferred", "the deferred startup run");
      await until(() => r.history("site")[0]?.result === "applied", "the run at the window", 8000);
      expect(r.history("site")[0]?.trigger).toBe("schedule");
      expect(r.status("site").deferredUntil).toBeUndefined();
    });
  });

  describe("approvals", () => {
    const changed = () => planOf(1, ["update", "x:y:Z"]);

    it("holds a plan for approval, then applies it when approved", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      const held = await r.reconcile("site");
      expect(held).toMatchObject({ result: "awaiting-approval", revision: REV_A, counts: { update: 1 } });
      expect(held.plan).toEqual(engine.plan.steps);
      expect(r.history("site")[0]?.plan).toEqual(engine.plan.steps);
      const status = r.status("site");
      expect(status.awaitingApproval).toMatchObject({
        revision: REV_A,
        runId: held.id,
        counts: { update: 1 },
      });
      expect(status.conditions.find((c) => c.type === "Ready")?.reason).toBe("AwaitingApproval");
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.ops()).toEqual(["preview"]);

      const applied = await r.approve("site").done;
      expect(applied.result).toBe("applied");
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      expect(r.status("site").awaitingApproval).toBeUndefined();
      expect(eventsNamed("recovered")).toEqual([]);
    });

    it("plans a new revision again instead of applying it on an old approval", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      await r.reconcile("site");
      source.revision = REV_B;
      const run = await r.approve("site").done;
      expect(run).toMatchObject({ result: "awaiting-approval", revision: REV_B });
      expect(engine.count("up")).toBe(0);
      expect(r.status("site").awaitingApproval?.revision).toBe(REV_B);
      expect((await r.approve("site").done).result).toBe("applied");
    });

    it("holds again when the same revision now plans different steps", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      await r.reconcile("site");
      engine.plan = planOf(1, ["update", "x:y:Z"], ["create", "x:y:Other"]);
      expect((await r.approve("site").done).result).toBe("awaiting-approval");
      expect(engine.count("up")).toBe(0);
      expect((await r.approve("site").done).result).toBe("applied");
    });

    it("holds only destructive plans with requireApproval: destructive", async () => {
      const r = await create({ targets: [spec({ requireApproval: "destructive" })] });
      engine.plan = planOf(3, ["create", "x:y:Z"]);
      expect((await r.reconcile("site")).result).toBe("applied");
      engine.plan = planOf(3, ["delete", "x:y:Z"]);
      expect((await r.reconcile("site")).result).toBe("awaiting-approval");
    });
  });

  describe("promotion", () => {
    const pair = (promote: TargetSpec["promote"] = { from: "staging" }) => [
      spec({ name: "staging", stack: "staging" }),
      spec({ name: "prod", stack: "prod", promote }),
    ];
    const ranFor = (target: string) => engine.calls.filter((c) => c.request.stack === target).length;

    it("refuses a promote.from that is unknown, itself, another repository or closes a cycle", async () => {
      await expect(create({ targets: pair({ from: "stagin" }) })).rejects.toThrowError(
        /target "prod": `promote.from` names an unknown target \(known: prod, staging\), got "stagin"/,
      );
      await expect(create({ targets: [spec({ promote: { from: "site" } })] })).rejects.toThrowError(
        /`promote.from` names the target itself/,
      );
      await expect(
        create({
          targets: [
            spec({ name: "staging", repo: "https://example.com/other.git" }),
            spec({ name: "prod", promote: { from: "staging" } }),
          ],
        }),
      ).rejects.toThrowError(/`promote.from` names a target of another repository/);
      await expect(
        create({
          targets: [
            spec({ name: "staging", dependsOn: ["prod"] }),
            spec({ name: "prod", promote: { from: "staging" } }),
          ],
        }),
      ).rejects.toThrowError(/cycle: /);
      await expect(create({ targets: pair({ from: "staging", after: "soon" }) })).rejects.toThrowError(
        /`promote.after` must be a duration/,
      );
    });

    it("promotes what the upstream applied after the soak time, without the engine before that", async () => {
      const r = await create({ targets: pair({ from: "staging", after: "1h" }) });
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      expect((await r.reconcile("prod", { force: false })).result).toBe("skipped");
      expect(r.status("prod").pendingPromotion).toBeUndefined();
      expect((await r.reconcile("staging")).result).toBe("applied");
      const check = await r.reconcile("prod", { trigger: "promotion", force: false });
      expect(check.result).toBe("skipped");
      // The soak time counts from when staging applied and was last seen becoming Ready.
      const staging = r.status("staging");
      const readySince = staging.conditions.find((c) => c.type === "Ready")?.since as string;
      const appliedAt = Math.max(Date.parse(staging.revisionAppliedAt as string), Date.parse(readySince));
      expect(r.status("prod").pendingPromotion).toEqual({
        revision: REV_A,
        dueAt: new Date(appliedAt + 3_600_000).toISOString(),
      });
      expect(ranFor("prod")).toBe(0);
      expect(r.promotions("prod")).toEqual([]);
    });

    it("promotes at once with no soak time, and a new upstream revision follows", async () => {
      const r = await create({ targets: pair() });
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      await r.reconcile("staging");
      await r.whenIdle();
      expect(r.history("prod")[0]).toMatchObject({
        trigger: "promotion",
        result: "applied",
        revision: REV_A,
      });
      expect(source.checkouts.at(-1)).toMatchObject({ revision: REV_A, previous: undefined });
      source.revision = REV_B;
      // prod never asks the remote: its revision is staging's.
      const resolves = source.resolves;
      await r.reconcile("prod", { force: false });
      expect(source.resolves).toBe(resolves);
      expect(r.status("prod").lastAppliedRevision).toBe(REV_A);
      await r.reconcile("staging");
      await r.whenIdle();
      expect(r.status("prod").lastAppliedRevision).toBe(REV_B);
      expect(r.promotions("prod").map((p) => [p.kind, p.revision, p.previousRevision])).toEqual([
        ["auto", REV_B, REV_A],
        ["auto", REV_A, undefined],
      ]);
    });

    it("does not time a promotion while the upstream is unhealthy", async () => {
      const r2 = await Reconciler.create({
        dataDir: join(dir, "second"),
        engine,
        source,
        installDependencies: false,
        logger: pino({ level: "silent" }),
        targets: pair({ from: "staging", requireHealthy: true }),
      });
      try {
        source.revision = REV_A;
        await r2.reconcile("staging");
        await r2.whenIdle();
        r2.suspend("prod");
        source.revision = REV_B;
        await r2.reconcile("staging");
        engine.previewErrors.push(new StalledError("ProgramFailed", "boom"));
        await r2.reconcile("staging", { trigger: "manual" });
        r2.resume("prod");
        await r2.reconcile("prod", { trigger: "promotion", force: false });
        expect(r2.status("prod").pendingPromotion).toEqual({
          revision: REV_B,
          waitingFor: '"staging" is not ready (ProgramFailed)',
        });
        expect(r2.status("prod").lastAppliedRevision).toBe(REV_A);
      } finally {
        await r2.stop({ graceMs: 100 });
      }
    });

    it("promotes and rolls back by hand, recording who and why, and holds the bad revision back", async () => {
      const r = await create({ targets: pair({ from: "staging", after: "1h" }) });
      const promoted: string[] = [];
      r.on("promoted", (p) => promoted.push(p.kind));
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      await r.reconcile("staging");
      expect(() => r.promote("prod", { by: "", reason: "x" })).toThrowError(/`by` must say who asks/);
      expect(() => r.promote("prod", { by: "amy", reason: "x", revision: "zz" })).toThrowError(
        /`revision` must be a commit SHA/,
      );
      expect(() => r.promote("prod", { by: "amy", reason: "x", revision: "bbbb" })).toThrowError(
        /"staging" never applied it successfully \(recent: aaaaaaaaaaaa\)/,
      );
      expect(() => r.promote("staging", { by: "amy", reason: "x" })).toThrowError(/has no `promote` policy/);
      expect(() => r.rollback("staging", { by: "amy", reason: "x" })).toThrowError(
        /roll it back with `git revert`/,
      );
      expect(() => r.rollback("prod", { by: "amy", reason: "x" })).toThrowError(
        /it has applied no other revision/,
      );

      expect((await r.promote("prod", { by: "amy", reason: "hotfix", revision: "aaaa" }).done).result).toBe(
        "applied",
      );
      source.revision = REV_B;
      await r.reconcile("staging");
      expect((await r.promote("prod", { by: "amy", reason: "next" }).done).revision).toBe(REV_B);
      const back = await r.rollback("prod", { by: "bo", reason: "errors up" }).done;
      expect(back).toMatchObject({ result: "applied", revision: REV_A });
      expect(r.status("prod")).toMatchObject({ promotedRevision: REV_A, heldBackRevision: REV_B });
      expect(r.promotions("prod")[0]).toMatchObject({ kind: "rollback", by: "bo", reason: "errors up" });
      expect(promoted).toEqual(["manual", "manual", "rollback"]);
      await r.reconcile("prod", { trigger: "promotion", force: false });
      expect(r.status("prod").lastAppliedRevision).toBe(REV_A);
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
