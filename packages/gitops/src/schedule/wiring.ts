/**
 * How one reconciler's parts are wired together: the recorder, the run queue
 * and the scheduler around the shared runtime, the command host, the replica
 * set when the options ask for one, and the run loop that executes a queued
 * run and hands its follow-ups back to the scheduler. The facade
 * (`reconciler.ts`) builds it once and keeps its own lifecycle flags.
 */
import { newOwnerId } from "../engine/process.js";
import { CancelledError, ReconcilerStoppedError } from "../errors.js";
import { type ReconcilerEvents, TypedEmitter } from "../events.js";
import type { QueuedRun, ResolvedOptions } from "../options.js";
import { afterRun } from "../pipelines/dependencies.js";
import { createReplicas, enqueueOwned, type ReplicaParts } from "../replicas/replicaHost.js";
import type { ReplicaSet } from "../replicas/replicas.js";
import { Recorder } from "../run/recorder.js";
import { executeRun, type RunEnd } from "../run/run.js";
import { setCondition } from "../run/status.js";
import { DESTROY_STEPS, RECONCILE_STEPS } from "../run/steps.js";
import type { ResolvedTarget } from "../spec/spec.js";
import { WatchHub } from "../watch/hub.js";
import type { CommandHost } from "./commands.js";
import { type PendingRun, RunQueue, type RunRequest, skippedRun } from "./queue.js";
import type { Runtime, TargetState } from "./runtime.js";
import { Scheduler } from "./scheduler.js";
import { Semaphore } from "./semaphore.js";

/** Runs deciding at once: decisions are cheap (one ref lookup); only runs with work queue for an engine slot. */
const DECIDE_CONCURRENCY = 32;
/** How long a watched target's changes are gathered into one drift check. */
const WATCH_WINDOW_MS = 1000;

/** What the wiring asks of the facade: its lifecycle and the checks it owns. */
export interface FacadeHooks {
  /** Scheduling has started (and not stopped). */
  scheduling(): boolean;
  /** `stop()` was called: new runs are refused, queued ones settled as skipped. */
  stopping(): boolean;
  /** Whether scheduled runs of a target are suspended. */
  isSuspended(name: string): boolean;
  /** @throws UnknownTargetError */
  require(name: string): TargetState;
}

/** Scheduler health since it was last taken (see `Reconciler.takeSchedulerStats`). */
export interface SchedulerStats {
  decisions: number;
  maxLatenessMs: number;
}

/** One reconciler's wired parts. */
export interface Wiring extends ReplicaParts {
  readonly events: TypedEmitter<ReconcilerEvents>;
  readonly recorder: Recorder;
  readonly queue: RunQueue<RunEnd | undefined>;
  readonly scheduler: Scheduler;
  readonly replicas: ReplicaSet | undefined;
  /** Aborted when the reconciler shuts down: runs in progress are cancelled through the engine. */
  readonly shutdown: AbortController;
  readonly stats: SchedulerStats;
  /** The watches of Kubernetes targets' objects. */
  readonly watches: WatchHub;
  /** Queues a run of a target this process owns (with replicas, through the owner). */
  enqueue(state: TargetState, request: RunRequest): QueuedRun;
  /** Returns the scheduler stats and resets them. */
  takeStats(): SchedulerStats;
  /**
   * Stops the queue and the schedules, lets runs in progress finish within `graceMs`, then
   * cancels them, settles the queued ones and stops the replicas; `true` when every run finished on its own.
   */
  stopRuns(graceMs: number): Promise<boolean>;
}

/** Wires the parts of a reconciler over `options`; nothing runs until the scheduler or a command queues a run. */
export function wireReconciler(options: ResolvedOptions, facade: FacadeHooks): Wiring {
  const targets = new Map<string, TargetState>();
  const events = new TypedEmitter<ReconcilerEvents>();
  const shutdown = new AbortController();
  const stats: SchedulerStats = { decisions: 0, maxLatenessMs: 0 };
  // Filled in below; the parts reach each other through these closures.
  let rt: Runtime;
  let replicas: ReplicaSet | undefined;
  let enqueue: Wiring["enqueue"];

  const recorder = new Recorder(options.store, events, options.clock, (t) => replicas?.fence(t));
  const execute = async (name: string, run: PendingRun, decided: () => void): Promise<RunEnd | undefined> => {
    const state = targets.get(name);
    if (!state) return undefined;
    if (replicas?.owns(name) === false) {
      run.settle(skippedRun(name, run, "another replica owns the target", options.clock.now()));
      return undefined;
    }
    const steps = run.kind === "destroy" ? DESTROY_STEPS : RECONCILE_STEPS;
    const end = await executeRun(rt, state, run, steps, decided);
    if (end.succeeded) scheduler.resetAttempts(name);
    if (facade.scheduling()) scheduler.followUp(name, end.followUps);
    else if (end.followUps.applied) scheduler.followUp(name, { applied: true });
    return end;
  };
  const queue = new RunQueue<RunEnd | undefined>({
    maxDeciding: DECIDE_CONCURRENCY,
    clock: options.clock,
    execute,
    afterRun: (name, end) => {
      const state = targets.get(name);
      if (state && end) afterRun(rt, state, end.outputsChanged, end.recorded);
    },
  });
  const scheduler: Scheduler = new Scheduler({
    request: (name, request) => {
      const state = targets.get(name);
      if (state && !facade.stopping()) rt.enqueue(state, request);
    },
    mayRun: (name, scheduled) =>
      targets.has(name) &&
      facade.scheduling() &&
      (replicas?.owns(name) ?? true) &&
      !(scheduled && facade.isSuspended(name)),
    clock: options.clock,
    random: options.random,
    retryBaseMs: options.retryBaseMs,
    retryMaxMs: options.retryMaxMs,
    logger: options.logger,
    onRetry: (name, at) => storeRetry(name, at),
  });
  /** Keeps a retry's time in the status, so the next start retries too; a store outage only loses that. */
  const storeRetry = (name: string, at: Date): void => {
    recorder
      .updateStatus(name, (before) => ({ ...before, retryAt: at.toISOString() }))
      .catch((error: unknown) =>
        options.logger.warn({ target: name, err: error }, "could not store the retry's time"),
      );
  };
  /** Targets with a run under way that reached the engine: their own writes are not drift. */
  const running = new Map<string, number>();
  events.on("run.started", (e) => {
    running.set(e.target, (running.get(e.target) ?? 0) + 1);
    watches.runStarted(e.target, e.trigger);
  });
  events.on("run.finished", (e) => {
    const left = (running.get(e.target) ?? 1) - 1;
    if (left > 0) running.set(e.target, left);
    else {
      running.delete(e.target);
      watches.runEnded(e.target);
    }
  });
  const watches = new WatchHub({
    logger: options.logger,
    dataDir: options.dataDir,
    windowMs: WATCH_WINDOW_MS,
    inRun: (name) => running.has(name),
    request: (name, urns) => {
      const state = targets.get(name);
      if (!state) return void watches.remove(name);
      if (facade.stopping() || !facade.scheduling() || facade.isSuspended(name)) return;
      rt.enqueue(state, { trigger: "watch", force: false, refreshScope: urns });
    },
    condition: (name, status, reason, message) => {
      const now = recorder.status(name).conditions.find((c) => c.type === "Watching");
      // Only transitions are written (a `watch: false` target is told so after every run).
      if (!targets.has(name) || (now?.status === status && now.reason === reason && now.message === message))
        return;
      recorder
        .updateStatus(name, (before) => ({
          ...before,
          conditions: setCondition(before.conditions, "Watching", status, reason, message, recorder.now()),
        }))
        .catch((error: unknown) =>
          options.logger.warn({ target: name, err: error }, "could not store the Watching condition"),
        );
    },
  });
  rt = {
    inventoryRead: (state, inventory, resources, secrets) =>
      watches.inventoryRead(state, inventory, resources, secrets),
    refreshed: (name, startedAt) => watches.refreshed(name, startedAt),
    options,
    targets,
    queue,
    events,
    recorder,
    engineSlots: new Semaphore(options.concurrency),
    owner: newOwnerId(),
    shutdown: shutdown.signal,
    enqueue: (state, request) => enqueue(state, request),
    stopping: () => facade.stopping(),
    isSuspended: (name) => facade.isSuspended(name),
    fenced: (name) => replicas?.lost(name, true),
    countDecision: (requestedAt) => {
      stats.decisions++;
      stats.maxLatenessMs = Math.max(stats.maxLatenessMs, options.clock.now() - requestedAt);
    },
  };
  const commands: CommandHost = {
    rt,
    get replicas() {
      return replicas;
    },
    require: (name) => facade.require(name),
  };
  enqueue = (state, request) => {
    if (facade.stopping()) throw new ReconcilerStoppedError();
    return enqueueOwned(commands, queue, state.spec.name, request);
  };
  const schedule = (spec: ResolvedTarget) => {
    const { deferredUntil, retryAt } = recorder.status(spec.name);
    scheduler.schedule(spec, deferredUntil, retryAt);
  };
  const parts: ReplicaParts = {
    rt,
    targets,
    queue,
    scheduler,
    commands,
    scheduling: () => facade.scheduling(),
    schedule,
  };
  replicas = createReplicas(parts);
  return {
    ...parts,
    events,
    recorder,
    queue,
    scheduler,
    shutdown,
    stats,
    watches,
    enqueue,
    takeStats() {
      const taken = { decisions: stats.decisions, maxLatenessMs: stats.maxLatenessMs };
      stats.decisions = 0;
      stats.maxLatenessMs = 0;
      return taken;
    },
    async stopRuns(graceMs) {
      queue.stop();
      for (const name of targets.keys()) scheduler.unschedule(name);
      await watches.stop();
      const clean = await queue.drain(graceMs, () =>
        shutdown.abort(new CancelledError("the reconciler is shutting down")),
      );
      for (const name of targets.keys()) queue.dropPending(name, "the reconciler stopped");
      await replicas?.stop(true);
      return clean;
    },
    get replicas() {
      return replicas;
    },
  };
}
