import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Cron } from "croner";
import { type Logger, pino } from "pino";
import {
  type ApplyResult,
  type ChangeCounts,
  type Engine,
  type EngineProgress,
  type Plan,
  PulumiEngine,
  type StackRequest,
} from "./engine.js";
import {
  CancelledError,
  DriftlessError,
  GateRefusedError,
  RetryableError,
  SpecError,
  StalledError,
} from "./errors.js";
import { type ReconcilerEventName, type ReconcilerEvents, TypedEmitter } from "./events.js";
import { checkGates } from "./gates.js";
import { publicRepoUrl, Redactor, readSecret } from "./secrets.js";
import { Semaphore } from "./semaphore.js";
import { GitSource, type Source } from "./source.js";
import { type ResolvedTarget, resolveTarget, type TargetSpec } from "./spec.js";
import {
  type Condition,
  type ConditionType,
  type RunRecord,
  type RunResult,
  SqliteStore,
  type Store,
  type TargetStatus,
  type Trigger,
} from "./store.js";
import { prepareDependencies } from "./workspace.js";

/** Environment variables the reconciler sets for every program (read by `@driftless/core` provenance). */
export const PROVENANCE_ENV = {
  repo: "DRIFTLESS_GIT_REPO",
  commit: "DRIFTLESS_GIT_COMMIT",
  path: "DRIFTLESS_GIT_PATH",
  stack: "DRIFTLESS_STACK",
} as const;

/** Options for {@link Reconciler.create}. Outside dependencies can be replaced (tests, scale-out). */
export interface ReconcilerOptions {
  /** Directory for mirrors, worktrees, the default state backend and the status database. */
  readonly dataDir: string;
  /** Targets to manage from the start. */
  readonly targets?: readonly TargetSpec[];
  /** Most runs at once across all targets. @default 2 */
  readonly concurrency?: number;
  /** First retry delay of a retryable failure; doubles per attempt, with jitter. @default 5000 */
  readonly retryBaseMs?: number;
  /** Longest retry delay. @default 300000 */
  readonly retryMaxMs?: number;
  /** Status and history. @default SqliteStore at `<dataDir>/driftless.db` */
  readonly store?: Store;
  /** @default PulumiEngine, the Pulumi CLI on PATH */
  readonly engine?: Engine;
  /** @default GitSource over the system git */
  readonly source?: Source;
  /** @default pino at `info` (level from `DRIFTLESS_LOG_LEVEL`) to stderr */
  readonly logger?: Logger;
  /** Install the program's dependencies when its lockfile changed. @default true */
  readonly installDependencies?: boolean;
}

/** Options for one requested run. */
export interface ReconcileOptions {
  /** What asked for the run; recorded in history. @default "manual" */
  readonly trigger?: Trigger;
  /**
   * Run the engine (refresh + preview, and `up` in apply mode) even when the
   * revision is unchanged and no resync is due. @default true for manual runs
   */
  readonly force?: boolean;
  /** Cancels this run (through the engine when it is running). */
  readonly signal?: AbortSignal;
}

/** The plan for a ref that is not applied (a branch or pull request head). */
export interface RefPreview {
  readonly target: string;
  readonly ref: string;
  readonly revision: string;
  readonly plan: Plan;
}

/** Options for {@link Reconciler.previewRef}. */
export interface PreviewRefOptions {
  readonly signal?: AbortSignal;
  /** Called with each step and engine event, for progress display. */
  readonly onProgress?: (step: string, message: string) => void;
}

/** A run waiting in the queue or running. */
export interface QueuedRun {
  readonly id: string;
  readonly target: string;
  /** Settles when the run finished; never rejects. */
  readonly done: Promise<RunRecord>;
}

interface Pending {
  readonly id: string;
  /** When the request was made: the scheduler's tick, a webhook's arrival. */
  readonly requestedAt: number;
  trigger: Trigger;
  force: boolean;
  readonly signals: AbortSignal[];
  readonly done: Promise<RunRecord>;
  readonly settle: (run: RunRecord) => void;
}

interface TargetState {
  spec: ResolvedTarget;
  active?: Pending;
  pending?: Pending;
  timer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  cron?: Cron;
  attempts: number;
  needsRecovery: boolean;
  removed: boolean;
}

interface RunContext {
  readonly target: ResolvedTarget;
  readonly run: Pending;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly redactor: Redactor;
  readonly lines: string[];
  status: TargetStatus;
  revision?: string;
  counts?: ChangeCounts;
  drift: boolean;
  /** Waits for one of the reconciler's engine slots (released when the run ends). */
  acquireEngine?: () => Promise<void>;
}

const LOG_LINES = 200;
const DECIDE_CONCURRENCY = 32;

/** Which trigger a coalesced run reports: the most deliberate one asked for it. */
const TRIGGER_RANK: Record<Trigger, number> = {
  interval: 0,
  startup: 1,
  resync: 1,
  schedule: 2,
  retry: 3,
  dependency: 4,
  webhook: 5,
  manual: 6,
};

/**
 * Continuous reconciliation of Pulumi stacks from Git.
 *
 * One run per target at a time; triggers during a run coalesce into one queued
 * run; at most `concurrency` runs at once, served in arrival order. A run is an
 * ordered list of steps — resolve, decide, checkout, prepare, recover, preview,
 * gates, apply — that stops at the first error or skip; status, history, events
 * and logs are recorded in `finally`.
 */
export class Reconciler {
  readonly #dataDir: string;
  readonly #store: Store;
  readonly #engine: Engine;
  readonly #source: Source;
  readonly #log: Logger;
  /** Engine work (checkout, install, refresh, preview, up) across all targets. */
  readonly #engineSlots: Semaphore;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #install: boolean;
  readonly #targets = new Map<string, TargetState>();
  readonly #ready: string[] = [];
  readonly #events = new TypedEmitter<ReconcilerEvents>();
  readonly #shutdown = new AbortController();
  // Decisions are cheap (one ref lookup), so many targets decide at once; only
  // those with work to do queue for an engine slot.
  #deciding = 0;
  #maxLatenessMs = 0;
  #decisions = 0;
  #scheduling = false;
  #closed = false;
  /** Set by stop(): queued runs are settled as skipped instead of started. */
  #stopping = false;

  private constructor(options: ReconcilerOptions) {
    this.#dataDir = resolve(options.dataDir);
    this.#store = options.store ?? new SqliteStore(join(this.#dataDir, "driftless.db"));
    this.#engine = options.engine ?? new PulumiEngine();
    this.#source = options.source ?? new GitSource({ dataDir: this.#dataDir });
    this.#log =
      options.logger ??
      pino({ level: process.env.DRIFTLESS_LOG_LEVEL ?? "info", base: undefined }, pino.destination(2));
    this.#engineSlots = new Semaphore(options.concurrency ?? 2);
    this.#retryBaseMs = options.retryBaseMs ?? 5000;
    this.#retryMaxMs = options.retryMaxMs ?? 300_000;
    this.#install = options.installDependencies ?? true;
  }

  /**
   * Opens the store, marks runs a crashed process left unfinished as
   * interrupted (their stacks are recovered before the next engine run) and
   * adds the given targets. Scheduling starts with {@link start}.
   */
  static async create(options: ReconcilerOptions): Promise<Reconciler> {
    if (!options || typeof options.dataDir !== "string" || options.dataDir === "") {
      throw new SpecError("Reconciler options", [{ path: "dataDir", message: "must be a directory path" }]);
    }
    if (
      options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    ) {
      throw new SpecError("Reconciler options", [
        { path: "concurrency", message: `must be a whole number of at least 1, got ${options.concurrency}` },
      ]);
    }
    const reconciler = new Reconciler(options);
    const seen = new Set<string>();
    try {
      for (const spec of options.targets ?? []) {
        const name = (spec as { name?: string }).name;
        if (name && seen.has(name)) {
          throw new SpecError(`target "${name}"`, [
            { path: "name", message: `is used by more than one target` },
          ]);
        }
        if (name) seen.add(name);
        reconciler.addTarget(spec);
      }
    } catch (error) {
      // Bad targets leave nothing behind: no open store, no runs marked.
      if (!options.store) reconciler.#store.close();
      throw error;
    }
    const interrupted = reconciler.#store.markInterrupted();
    for (const run of interrupted) {
      const state = reconciler.#targets.get(run.target);
      if (state) state.needsRecovery = true;
      reconciler.#log.warn(
        { target: run.target, runId: run.id },
        "a previous run was interrupted; recovering before the next run",
      );
    }
    return reconciler;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends ReconcilerEventName>(event: K, listener: (payload: ReconcilerEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Validates and adds a target (or replaces one of the same name). @throws SpecError */
  addTarget(spec: TargetSpec): ResolvedTarget {
    const resolved = resolveTarget(spec, { dataDir: this.#dataDir });
    const existing = this.#targets.get(resolved.name);
    if (existing) {
      existing.spec = resolved;
      if (this.#scheduling) this.#schedule(existing);
      return resolved;
    }
    const state: TargetState = { spec: resolved, attempts: 0, needsRecovery: false, removed: false };
    this.#targets.set(resolved.name, state);
    if (!this.#store.getStatus(resolved.name)) {
      this.#store.putStatus({ name: resolved.name, conditions: [], updatedAt: new Date().toISOString() });
    }
    if (this.#scheduling) this.#schedule(state);
    return resolved;
  }

  /** The targets being managed, defaults resolved. */
  targets(): ResolvedTarget[] {
    return [...this.#targets.values()].map((t) => t.spec);
  }

  /** One target's resolved spec, or `undefined`. */
  target(name: string): ResolvedTarget | undefined {
    return this.#targets.get(name)?.spec;
  }

  /**
   * Stops managing a target. With `destroyOnRemove`, its stack is destroyed
   * first (after any run in progress); otherwise the infrastructure is left alone.
   */
  async removeTarget(name: string): Promise<RunRecord | undefined> {
    const state = this.#require(name);
    this.#unschedule(state);
    let destroyed: RunRecord | undefined;
    if (state.spec.destroyOnRemove) {
      destroyed = await this.#enqueue(state, { trigger: "manual", force: true, destroy: true }).done;
      if (destroyed.result !== "destroyed") return destroyed;
    }
    await state.active?.done;
    state.pending?.settle(this.#skipped(name, state.pending, "the target was removed"));
    state.pending = undefined;
    state.removed = true;
    this.#targets.delete(name);
    this.#store.deleteTarget(name);
    return destroyed;
  }

  /** Queues a run and waits for it to finish. */
  async reconcile(name: string, options: ReconcileOptions = {}): Promise<RunRecord> {
    return this.request(name, options).done;
  }

  /**
   * Queues a run without waiting. A request while the target is running joins
   * the one queued run behind it (same id), so no trigger is lost and none doubles.
   */
  request(name: string, options: ReconcileOptions = {}): QueuedRun {
    const state = this.#require(name);
    return this.#enqueue(state, {
      trigger: options.trigger ?? "manual",
      force: options.force ?? (options.trigger ?? "manual") === "manual",
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Releases a revision that a safety gate refused or whose ref was rewritten,
   * and queues a run that applies it. @default revision - the stalled one
   */
  approve(name: string, revision?: string): QueuedRun {
    const state = this.#require(name);
    const status = this.#status(name);
    const approved = revision ?? status.stalledRevision ?? status.lastAttemptedRevision;
    if (!approved) throw new DriftlessError(`target "${name}" has no revision waiting for approval`);
    this.#store.putStatus({ ...status, approvedRevision: approved, updatedAt: new Date().toISOString() });
    return this.#enqueue(state, { trigger: "manual", force: true });
  }

  /**
   * Plans another ref (for example `refs/pull/7/head`) against the target's
   * stack without applying it: the ref is checked out into a scratch worktree,
   * previewed, and the worktree removed. A stack that had to be created for
   * the preview is removed again, so nothing is left behind.
   */
  async previewRef(name: string, ref: string, options: PreviewRefOptions = {}): Promise<RefPreview> {
    const { spec: target } = this.#require(name);
    const resolved = resolveTarget(
      { name: target.name, repo: target.repo, stack: target.stack, ref },
      { dataDir: this.#dataDir },
    );
    const source = { repo: target.repo, ref: resolved.ref, auth: target.auth };
    const progress = options.onProgress ?? (() => undefined);
    const revision = await this.#source.resolve(source);
    progress("resolve", `${ref} is at ${revision}`);
    const checkoutDir = join(this.#dataDir, "previews", `${target.name}-${randomUUID().slice(0, 8)}`);
    try {
      await this.#source.checkout(source, revision, checkoutDir);
      const projectDir = join(checkoutDir, target.path);
      if (!target.program && this.#install) {
        const prepared = await prepareDependencies(
          projectDir,
          options.signal ? { signal: options.signal } : {},
        );
        progress("prepare", `dependencies ${prepared.action}`);
      }
      const ctx = {
        target,
        revision,
        redactor: new Redactor(),
      };
      this.#collectSecrets(target, ctx.redactor);
      const request = this.#stackRequestFor(
        target,
        revision,
        target.program ? join(checkoutDir, ".driftless", "inline") : projectDir,
      );
      progress("preview", target.refresh ? "refresh and preview" : "preview");
      const plan = await this.#engine.preview(request, {
        refresh: target.refresh,
        ephemeral: true,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (event) =>
          progress(
            "engine",
            ctx.redactor.redact(
              event.kind === "resource"
                ? `${event.done ? "done" : "start"} ${event.op} ${event.urn}`
                : event.message.trim(),
            ),
          ),
      });
      return { target: target.name, ref, revision, plan };
    } finally {
      rmSync(checkoutDir, { recursive: true, force: true });
    }
  }

  /** Stops scheduled runs for a target (manual runs still work). */
  suspend(name: string): TargetStatus {
    return this.#setSuspended(name, true);
  }

  /** Resumes scheduled runs for a target. */
  resume(name: string): TargetStatus {
    return this.#setSuspended(name, false);
  }

  /** A target's status. @throws DriftlessError for an unknown target */
  status(name: string): TargetStatus {
    this.#require(name);
    return this.#status(name);
  }

  /** Status of every managed target, by name. */
  statuses(): TargetStatus[] {
    return [...this.#targets.keys()].sort().map((name) => this.#status(name));
  }

  /** The most recent runs of a target, newest first. */
  history(name: string, limit = 50): RunRecord[] {
    this.#require(name);
    return this.#store.listRuns(name, limit);
  }

  /** One run by id. */
  run(id: string): RunRecord | undefined {
    return this.#store.getRun(id);
  }

  /**
   * Scheduler health since the last call: how many decisions were made and
   * the longest wait from a request (a tick, a webhook) to its decision.
   * Resets the figures.
   */
  takeSchedulerStats(): { decisions: number; maxLatenessMs: number } {
    const stats = { decisions: this.#decisions, maxLatenessMs: this.#maxLatenessMs };
    this.#decisions = 0;
    this.#maxLatenessMs = 0;
    return stats;
  }

  /** Runs waiting for a slot across all targets. */
  get queueDepth(): number {
    return [...this.#targets.values()].filter((t) => t.pending).length;
  }

  /** Whether the scheduler is running and the store open (for readiness probes). */
  get ready(): boolean {
    return this.#scheduling && this.#store.isOpen && !this.#closed;
  }

  /** Starts interval, resync and cron scheduling for every target, with an initial run each. */
  start(): void {
    if (this.#scheduling) return;
    this.#scheduling = true;
    for (const state of this.#targets.values()) {
      this.#schedule(state);
      if (!this.#isSuspended(state.spec.name)) this.#enqueue(state, { trigger: "startup", force: false });
    }
  }

  /**
   * Stops scheduling, lets runs in progress finish within `graceMs`, then
   * cancels them through the engine (so no stack stays locked) and closes the
   * store. Resolves `true` when every run finished on its own.
   */
  async stop(options: { readonly graceMs?: number } = {}): Promise<boolean> {
    this.#scheduling = false;
    this.#stopping = true;
    for (const state of this.#targets.values()) this.#unschedule(state);
    const active = [...this.#targets.values()].flatMap((t) => (t.active ? [t.active.done] : []));
    let clean = true;
    if (active.length > 0) {
      const grace = new Promise<"timeout">((r) =>
        setTimeout(() => r("timeout"), options.graceMs ?? 30_000).unref(),
      );
      if ((await Promise.race([Promise.all(active), grace])) === "timeout") {
        clean = false;
        this.#shutdown.abort(new CancelledError("the reconciler is shutting down"));
        await Promise.all(active);
      }
    }
    for (const state of this.#targets.values()) {
      state.pending?.settle(this.#skipped(state.spec.name, state.pending, "the reconciler stopped"));
      state.pending = undefined;
    }
    this.#closed = true;
    this.#store.close();
    return clean;
  }

  #require(name: string): TargetState {
    const state = this.#targets.get(name);
    if (!state) {
      const known = [...this.#targets.keys()].join(", ") || "none";
      throw new DriftlessError(`unknown target "${name}" (known: ${known})`);
    }
    return state;
  }

  #status(name: string): TargetStatus {
    return this.#store.getStatus(name) ?? { name, conditions: [], updatedAt: new Date().toISOString() };
  }

  #isSuspended(name: string): boolean {
    const status = this.#status(name);
    const condition = status.conditions.find((c) => c.type === "Suspended");
    return condition ? condition.status : (this.#targets.get(name)?.spec.suspend ?? false);
  }

  #setSuspended(name: string, suspended: boolean): TargetStatus {
    this.#require(name);
    const status = this.#status(name);
    const next: TargetStatus = {
      ...status,
      conditions: setCondition(
        status.conditions,
        "Suspended",
        suspended,
        suspended ? "Suspended" : "Resumed",
        suspended ? "scheduled runs are suspended" : "scheduled runs resumed",
      ),
      updatedAt: new Date().toISOString(),
    };
    this.#store.putStatus(next);
    return next;
  }

  // ---- scheduling -----------------------------------------------------------

  #schedule(state: TargetState): void {
    this.#unschedule(state);
    const { spec } = state;
    const tick = () => {
      const delay = spec.intervalMs * (1 + Math.random() * spec.jitter);
      state.timer = setTimeout(() => {
        if (!this.#isSuspended(spec.name)) this.#enqueue(state, { trigger: "interval", force: false });
        tick();
      }, delay);
      state.timer.unref();
    };
    tick();
    if (spec.schedule) {
      state.cron = new Cron(spec.schedule, { unref: true }, () => {
        if (!this.#isSuspended(spec.name)) this.#enqueue(state, { trigger: "schedule", force: true });
      });
    }
  }

  #unschedule(state: TargetState): void {
    clearTimeout(state.timer);
    clearTimeout(state.retryTimer);
    state.cron?.stop();
    state.timer = undefined;
    state.retryTimer = undefined;
    state.cron = undefined;
  }

  // ---- queue ----------------------------------------------------------------

  #enqueue(
    state: TargetState,
    request: { trigger: Trigger; force: boolean; signal?: AbortSignal; destroy?: boolean },
  ): QueuedRun & { destroy?: boolean } {
    if (this.#closed || this.#stopping) throw new DriftlessError("the reconciler is stopped");
    if (state.pending) {
      // Coalesce: the queued run takes the strongest request made of it.
      state.pending.force ||= request.force;
      if (TRIGGER_RANK[request.trigger] > TRIGGER_RANK[state.pending.trigger])
        state.pending.trigger = request.trigger;
      if (request.signal) state.pending.signals.push(request.signal);
      if (request.destroy) (state.pending as Pending & { destroy?: boolean }).destroy = true;
      return { id: state.pending.id, target: state.spec.name, done: state.pending.done };
    }
    let settle!: (run: RunRecord) => void;
    const done = new Promise<RunRecord>((r) => {
      settle = r;
    });
    const pending: Pending & { destroy?: boolean } = {
      id: randomUUID(),
      requestedAt: Date.now(),
      trigger: request.trigger,
      force: request.force,
      signals: request.signal ? [request.signal] : [],
      done,
      settle,
      ...(request.destroy ? { destroy: true } : {}),
    };
    state.pending = pending;
    if (!state.active) this.#ready.push(state.spec.name);
    this.#pump();
    return { id: pending.id, target: state.spec.name, done };
  }

  #pump(): void {
    while (this.#deciding < DECIDE_CONCURRENCY && this.#ready.length > 0) {
      const name = this.#ready.shift() as string;
      const state = this.#targets.get(name);
      if (!state?.pending || state.active) continue;
      if (this.#stopping) {
        state.pending.settle(this.#skipped(name, state.pending, "the reconciler stopped"));
        state.pending = undefined;
        continue;
      }
      const run = state.pending;
      state.pending = undefined;
      state.active = run;
      this.#deciding++;
      void this.#execute(state, run).finally(() => {
        this.#deciding--;
        state.active = undefined;
        if (state.pending) this.#ready.push(name);
        this.#pump();
      });
    }
  }

  // ---- one run --------------------------------------------------------------

  async #execute(state: TargetState, run: Pending & { destroy?: boolean }): Promise<void> {
    const target = state.spec;
    const started = Date.now();
    const timeout = AbortSignal.timeout(target.timeoutMs);
    const signal = AbortSignal.any([timeout, this.#shutdown.signal, ...run.signals]);
    const redactor = new Redactor();
    const lines: string[] = [];
    const log = this.#log.child({ target: target.name, runId: run.id });
    const ctx: RunContext = {
      target,
      run,
      signal,
      log,
      redactor,
      lines,
      status: this.#status(target.name),
      drift: false,
    };
    let result: RunResult = "failed";
    let error: unknown;
    let recorded = false;
    let releaseEngine: (() => void) | undefined;
    ctx.acquireEngine = async () => {
      releaseEngine ??= await this.#engineSlots.acquire(signal);
    };
    const record = (startRecord: boolean) => {
      if (startRecord && !recorded) {
        recorded = true;
        this.#store.startRun({
          id: run.id,
          target: target.name,
          trigger: run.trigger,
          ...(ctx.revision ? { revision: ctx.revision } : {}),
          startedAt: new Date(started).toISOString(),
          drift: false,
          log: "",
        });
        const status = this.#status(target.name);
        this.#store.putStatus({
          ...status,
          conditions: setCondition(
            status.conditions,
            "Reconciling",
            true,
            "Progressing",
            `run ${run.id} in progress`,
          ),
          updatedAt: new Date().toISOString(),
        });
        this.#events.emit("run.started", { target: target.name, runId: run.id, trigger: run.trigger });
      }
    };
    try {
      this.#collectSecrets(target, redactor);
      result = run.destroy ? await this.#destroy(ctx, record) : await this.#reconcile(ctx, state, record);
      if (result !== "skipped") state.attempts = 0;
    } catch (caught) {
      error = caught;
      result =
        caught instanceof CancelledError || signal.aborted
          ? "cancelled"
          : caught instanceof StalledError
            ? "stalled"
            : "failed";
      if (timeout.aborted && result === "cancelled") {
        error = new CancelledError(`the run exceeded its timeout of ${Math.round(target.timeoutMs / 1000)}s`);
      }
      record(true);
    } finally {
      releaseEngine?.();
    }
    const message = error
      ? redactor.redact(error instanceof Error ? error.message : String(error))
      : undefined;
    const finished: RunRecord = {
      id: run.id,
      target: target.name,
      trigger: run.trigger,
      ...(ctx.revision ? { revision: ctx.revision } : {}),
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      result,
      ...(ctx.counts ? { counts: ctx.counts } : {}),
      drift: ctx.drift,
      ...(message ? { error: message } : {}),
      log: redactor.redact(lines.slice(-LOG_LINES).join("\n")),
    };
    if (recorded) {
      this.#store.finishRun(finished);
      this.#finishStatus(ctx, finished, error);
      if (message) log.error({ revision: ctx.revision, result }, message);
      else log.info({ revision: ctx.revision, result, counts: ctx.counts }, `run ${result}`);
      this.#events.emit("run.finished", {
        target: target.name,
        runId: run.id,
        result,
        ...(ctx.revision ? { revision: ctx.revision } : {}),
        ...(ctx.counts ? { counts: ctx.counts } : {}),
        drift: ctx.drift,
        durationMs: Date.now() - started,
        ...(message ? { error: message } : {}),
      });
    }
    if ((result === "failed" || (result === "cancelled" && timeout.aborted)) && this.#scheduling) {
      this.#scheduleRetry(state, error);
    }
    run.settle(finished);
  }

  #collectSecrets(target: ResolvedTarget, redactor: Redactor): void {
    for (const [key, source] of Object.entries(target.secretConfig))
      redactor.add(readSecret(source, `secretConfig.${key}`));
    if (target.auth.token) redactor.add(readSecret(target.auth.token, "auth.token"));
    redactor.add(readSecret(target.passphrase, "passphrase"));
  }

  #progress(ctx: RunContext, step: string, message: string, engine?: EngineProgress): void {
    const line = `${new Date().toISOString()} [${step}] ${ctx.redactor.redact(message)}`;
    ctx.lines.push(line);
    if (ctx.lines.length > LOG_LINES * 2) ctx.lines.splice(0, ctx.lines.length - LOG_LINES);
    ctx.log.debug({ revision: ctx.revision, step }, ctx.redactor.redact(message));
    this.#events.emit("run.progress", {
      target: ctx.target.name,
      runId: ctx.run.id,
      step,
      message: ctx.redactor.redact(message),
      ...(engine ? { engine } : {}),
    });
  }

  #stackRequest(ctx: RunContext, workDir: string): StackRequest {
    return this.#stackRequestFor(ctx.target, ctx.revision, workDir);
  }

  #stackRequestFor(target: ResolvedTarget, revision: string | undefined, workDir: string): StackRequest {
    const secretConfig = Object.fromEntries(
      Object.entries(target.secretConfig).map(([k, v]) => [k, readSecret(v, `secretConfig.${k}`)]),
    );
    return {
      workDir,
      stack: target.stack,
      ...(target.program ? { program: target.program } : {}),
      ...(target.projectName ? { projectName: target.projectName } : {}),
      backend: target.backend,
      secretsProvider: target.secretsProvider,
      env: {
        // TypeScript programs are transpiled without a type check (several times
        // faster to start); type errors belong in CI and plan-on-PR, and a
        // target can turn checking back on with this variable in its `env`.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...target.env,
        PULUMI_CONFIG_PASSPHRASE: readSecret(target.passphrase, "passphrase"),
        [PROVENANCE_ENV.repo]: publicRepoUrl(target.repo),
        [PROVENANCE_ENV.path]: target.path,
        [PROVENANCE_ENV.stack]: target.stack,
        ...(revision ? { [PROVENANCE_ENV.commit]: revision } : {}),
      },
      config: target.config,
      secretConfig,
    };
  }

  #engineOptions(ctx: RunContext, refresh: boolean) {
    return {
      refresh,
      signal: ctx.signal,
      onProgress: (event: EngineProgress) => {
        const text =
          event.kind === "resource"
            ? `${event.done ? "done" : "start"} ${event.op} ${event.urn}`
            : `${event.severity}: ${event.message.trim()}`;
        this.#progress(ctx, "engine", text, event);
      },
    };
  }

  async #reconcile(
    ctx: RunContext,
    state: TargetState,
    record: (start: boolean) => void,
  ): Promise<RunResult> {
    const { target, run } = ctx;
    const status = ctx.status;
    const source = { repo: target.repo, ref: target.ref, auth: target.auth };

    // resolve: one round trip to learn the ref's commit. Scheduled checks share
    // a recent answer for the same repository and ref; pushes and people do not.
    const shared = run.trigger === "interval" || run.trigger === "startup" || run.trigger === "schedule";
    const revision = await this.#source.resolve(
      source,
      shared ? { maxAgeMs: Math.min(5000, target.intervalMs / 10) } : {},
    );
    ctx.revision = revision;
    this.#decisions++;
    this.#maxLatenessMs = Math.max(this.#maxLatenessMs, Date.now() - run.requestedAt);

    // decide: an unchanged, healthy revision with no resync due never starts the engine.
    const now = Date.now();
    const approved = status.approvedRevision === revision;
    const resyncDue =
      !status.lastDriftCheckAt || now - Date.parse(status.lastDriftCheckAt) >= target.resyncMs;
    if (!run.force && !approved && status.stalledRevision === revision) return "skipped";
    const current =
      target.mode === "apply"
        ? status.lastAppliedRevision === revision
        : status.lastAttemptedRevision === revision;
    if (!run.force && !approved && current && !resyncDue && !state.needsRecovery) return "skipped";

    await ctx.acquireEngine?.();
    record(true);
    this.#progress(ctx, "resolve", `${target.ref} is at ${revision}`);

    // checkout: the exact commit, refusing a rewritten ref unless approved.
    const checkoutDir = join(this.#dataDir, "work", target.name);
    await this.#source.checkout(
      source,
      revision,
      checkoutDir,
      approved ? undefined : status.lastAppliedRevision,
    );
    const projectDir = join(checkoutDir, target.path);
    this.#progress(ctx, "checkout", `checked out ${revision.slice(0, 12)} into ${projectDir}`);

    // prepare: dependencies only when the lockfile changed.
    if (!target.program && this.#install) {
      const prepared = await prepareDependencies(projectDir, { signal: ctx.signal });
      this.#progress(
        ctx,
        "prepare",
        `dependencies ${prepared.action}${prepared.lockfile ? ` (${prepared.lockfile})` : ""}`,
      );
    }

    const workDir = target.program ? join(this.#dataDir, "inline", target.name) : projectDir;
    const request = this.#stackRequest(ctx, workDir);

    // recover: what an interrupted run left behind.
    if (state.needsRecovery) {
      const actions = await this.#engine.recover(request, this.#engineOptions(ctx, false));
      for (const action of actions) this.#progress(ctx, "recover", action);
      state.needsRecovery = false;
    }

    // preview: what would change, after refreshing from the real infrastructure.
    this.#progress(ctx, "preview", target.refresh ? "refresh and preview" : "preview");
    const plan: Plan = await this.#engine.preview(request, this.#engineOptions(ctx, target.refresh));
    ctx.counts = plan.counts;
    ctx.drift = plan.changes && status.lastAppliedRevision === revision;
    this.#progress(ctx, "preview", `plan: ${formatCounts(plan.counts)}${ctx.drift ? " (drift)" : ""}`);
    if (ctx.drift)
      this.#events.emit("drift.detected", { target: target.name, revision, counts: plan.counts });

    if (target.mode === "preview") return "planned";
    if (target.mode === "detect")
      return ctx.drift ? "drift-detected" : plan.changes ? "planned" : "unchanged";
    if (!plan.changes) return "unchanged";

    // gates: refuse destructive or empty plans unless approved.
    if (!approved) {
      const refusal = checkGates(plan, target.gates);
      if (refusal) {
        this.#events.emit("gate.refused", {
          target: target.name,
          revision,
          gate: refusal.gate,
          message: refusal.message,
        });
        throw new GateRefusedError(refusal.gate, refusal.message);
      }
    }

    // apply
    this.#progress(ctx, "apply", "up");
    const applied: ApplyResult = await this.#engine.up(request, this.#engineOptions(ctx, target.refresh));
    ctx.counts = applied.counts;
    ctx.status = { ...ctx.status, outputs: applied.outputs };
    this.#progress(ctx, "apply", `applied: ${formatCounts(applied.counts)}`);
    return ctx.drift ? "drift-corrected" : "applied";
  }

  async #destroy(ctx: RunContext, record: (start: boolean) => void): Promise<RunResult> {
    const { target } = ctx;
    await ctx.acquireEngine?.();
    record(true);
    const checkoutDir = join(this.#dataDir, "work", target.name);
    const workDir = target.program
      ? join(this.#dataDir, "inline", target.name)
      : join(checkoutDir, target.path);
    this.#progress(ctx, "destroy", `destroying stack ${target.stack}`);
    const result = await this.#engine.destroy(
      this.#stackRequest(ctx, workDir),
      this.#engineOptions(ctx, target.refresh),
    );
    ctx.counts = result.counts;
    rmSync(checkoutDir, { recursive: true, force: true });
    return "destroyed";
  }

  #finishStatus(ctx: RunContext, run: RunRecord, error: unknown): void {
    const name = ctx.target.name;
    const before = this.#status(name);
    const now = new Date().toISOString();
    let conditions = before.conditions;
    let next: TargetStatus = { ...before, ...(ctx.status.outputs ? { outputs: ctx.status.outputs } : {}) };
    const revision = run.revision;
    const wasUnhealthy = conditions.some(
      (c) =>
        (c.type === "Stalled" && c.status) || (c.type === "Ready" && !c.status && c.reason !== "Pending"),
    );
    if (revision) next = { ...next, lastAttemptedRevision: revision };
    switch (run.result) {
      case "applied":
      case "drift-corrected":
      case "unchanged": {
        conditions = setCondition(conditions, "Ready", true, "Applied", `applied revision ${revision}`);
        conditions = setCondition(conditions, "Stalled", false, "Applied", "");
        conditions = setCondition(
          conditions,
          "Drifted",
          false,
          "InSync",
          "infrastructure matches the revision",
        );
        const { stalledRevision: _s, approvedRevision: _a, ...rest } = next;
        next = { ...rest, lastAppliedRevision: revision as string, lastDriftCheckAt: now };
        if (before.lastAppliedRevision !== revision || run.result !== "unchanged") {
          next = { ...next, lastAppliedAt: now };
        }
        if (before.lastAppliedRevision !== revision) {
          this.#events.emit("revision.applied", { target: name, revision: revision as string });
        }
        if (wasUnhealthy) this.#events.emit("recovered", { target: name, revision: revision as string });
        break;
      }
      case "drift-detected":
        conditions = setCondition(
          conditions,
          "Drifted",
          true,
          "DriftDetected",
          `drift found: ${formatCounts(run.counts)}`,
        );
        next = { ...next, lastDriftCheckAt: now };
        break;
      case "planned":
        conditions = setCondition(conditions, "Ready", true, "Planned", `planned revision ${revision}`);
        next = { ...next, lastDriftCheckAt: now };
        break;
      case "stalled": {
        const stalled = error as StalledError;
        conditions = setCondition(conditions, "Stalled", true, stalled.reason, run.error ?? "");
        conditions = setCondition(conditions, "Ready", false, stalled.reason, run.error ?? "");
        const { approvedRevision: _a, ...rest } = next;
        next = { ...rest, ...(revision ? { stalledRevision: revision } : {}) };
        this.#events.emit("stalled", {
          target: name,
          ...(revision ? { revision } : {}),
          reason: stalled.reason,
          message: run.error ?? "",
        });
        break;
      }
      case "failed":
      case "cancelled":
        conditions = setCondition(
          conditions,
          "Ready",
          false,
          run.result === "failed" ? "Failed" : "Cancelled",
          run.error ?? "",
        );
        break;
      default:
        break;
    }
    conditions = setCondition(conditions, "Reconciling", false, "Idle", "");
    this.#store.putStatus({ ...next, conditions, updatedAt: now });
  }

  #scheduleRetry(state: TargetState, error: unknown): void {
    state.attempts++;
    const hinted = error instanceof RetryableError ? error.retryAfterMs : 0;
    const backoff = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (state.attempts - 1));
    const delay = Math.max(hinted, backoff * (0.5 + Math.random()));
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      if (!state.removed && this.#scheduling) this.#enqueue(state, { trigger: "retry", force: true });
    }, delay);
    state.retryTimer.unref();
    this.#log.info(
      { target: state.spec.name, attempt: state.attempts, delayMs: Math.round(delay) },
      "retry scheduled",
    );
  }

  #skipped(name: string, run: Pending, reason: string): RunRecord {
    const now = new Date().toISOString();
    return {
      id: run.id,
      target: name,
      trigger: run.trigger,
      startedAt: now,
      finishedAt: now,
      result: "skipped",
      drift: false,
      log: reason,
    };
  }
}

function formatCounts(counts: ChangeCounts | undefined): string {
  if (!counts) return "no changes";
  const parts = (["create", "update", "replace", "delete"] as const)
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} to ${k}`);
  return parts.length > 0
    ? `${parts.join(", ")}, ${counts.same} unchanged`
    : `no changes (${counts.same} unchanged)`;
}

function setCondition(
  conditions: readonly Condition[],
  type: ConditionType,
  status: boolean,
  reason: string,
  message: string,
): Condition[] {
  const previous = conditions.find((c) => c.type === type);
  const since = previous && previous.status === status ? previous.since : new Date().toISOString();
  return [...conditions.filter((c) => c.type !== type), { type, status, reason, message, since }];
}
