// Fakes and the per-test setup shared by the reconciler's unit tests (no tests here).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach } from "vitest";
import type {
  ApplyResult,
  ChangeCounts,
  Engine,
  EngineOperationOptions,
  Plan,
  PlannedStep,
  StackRequest,
} from "./engine/types.js";
import { CancelledError } from "./errors.js";
import type { ReconcilerEventName, ReconcilerEvents } from "./events.js";
import type { Source, SourceRef } from "./git/source.js";
import type { ReconcilerOptions } from "./options.js";
import { Reconciler } from "./reconciler.js";
import type { TargetSpec } from "./spec/spec.js";

export const REV_A = "a".repeat(40);
export const REV_B = "b".repeat(40);

export interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves to the promise's value, or "pending" when it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([promise, new Promise<"pending">((r) => setTimeout(() => r("pending"), ms))]);
}

export function counts(extra: Partial<ChangeCounts> = {}): ChangeCounts {
  return { create: 0, update: 0, delete: 0, replace: 0, same: 0, ...extra };
}

export function planOf(same: number, ...steps: [PlannedStep["op"], string][]): Plan {
  const c = counts({ same });
  const planned = steps.map(([op, type], i): PlannedStep => {
    c[op]++;
    return { op, type, urn: `urn:pulumi:dev::site::${type}::r${i}` };
  });
  return { counts: c, steps: planned, changes: planned.length > 0 };
}

/** A source whose ref points wherever the test says; records what it was asked. */
export class FakeSource implements Source {
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

type Op = "refresh" | "preview" | "up" | "destroy" | "recover";

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
export class FakeEngine implements Engine {
  readonly calls: EngineCall[] = [];
  readonly held: { call: EngineCall; release: () => void }[] = [];
  hold = false;
  plan: Plan = planOf(2);
  /** Thrown by the next previews, one per call, before the plan is returned. */
  readonly previewErrors: Error[] = [];
  /** Set by {@link refreshing}: an engine that can refresh once and keep the state. */
  refresh?: Engine["refresh"];
  /** Set by {@link versioned}: an engine that tells its state's digest. */
  stateVersion?: Engine["stateVersion"];
  /** Set by a test: an engine that reads its stack's resources (the inventory). */
  resources?: Engine["resources"];
  /** Set by a test: an engine that reads its state's digest and resources at once. */
  state?: Engine["state"];

  /** Makes this engine refresh apart from its preview, reporting `drift` as what refresh changed. */
  refreshing(drift: NonNullable<Plan["drift"]> = []): void {
    this.refresh = async (request, options) => {
      await this.#enter("refresh", request, options);
      return drift;
    };
  }

  /** Makes this engine tell its state's digest: each call takes the next of `versions`, the last one stays. */
  versioned(...versions: string[]): void {
    this.stateVersion = async () =>
      versions.length > 1 ? (versions.shift() as string) : (versions[0] ?? "s");
  }

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
}

/** The plan with what refresh reported: the steps at `indices` are on resources that drifted. */
export function withDrift(plan: Plan, ...indices: number[]): Plan {
  return { ...plan, drift: indices.map((i) => plan.steps[i] as PlannedStep) };
}

/** What a test of the reconciler works with; fresh for every test. */
export interface Harness {
  readonly dir: string;
  readonly engine: FakeEngine;
  readonly source: FakeSource;
}

/**
 * Registers the per-test setup of a reconciler over a fake engine and source
 * (cleaned up after each test) and hands the fresh fakes to `bind`. Returns
 * the target spec builder, `create` and the events seen so far.
 */
export function useReconciler(bind: (harness: Harness) => void) {
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
    bind({ dir, engine, source });
  });

  afterEach(async () => {
    // Let anything still held finish so stop() does not wait for the grace period.
    engine.hold = false;
    while (engine.held.length > 0) engine.release();
    await reconciler?.stop({ graceMs: 100 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  return { spec, create, eventsNamed };
}
