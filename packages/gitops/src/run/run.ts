/**
 * One run from the queue to its history row: builds the run's context,
 * executes its ordered steps (see `steps.ts`) until one stops it, classifies
 * an error once, and records status, history, events and follow-ups in `finally`.
 */
import type { Logger } from "pino";
import { EngineProgressRenderer } from "../engine/engine.js";
import type { TypeCheck } from "../engine/typecheck.js";
import type {
  ChangeCounts,
  EngineOperationOptions,
  EngineProgress,
  Plan,
  StackRequest,
  StackState,
  StateResource,
} from "../engine/types.js";
import {
  CancelledError,
  FencedError,
  StalledError,
  type StallReason,
  StoreUnavailableError,
} from "../errors.js";
import { type PendingRun, skippedRun, strongerTrigger } from "../schedule/queue.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import type { FollowUps } from "../schedule/scheduler.js";
import { Redactor, readableSecrets } from "../spec/secrets.js";
import type { ResolvedTarget } from "../spec/spec.js";
import { LOG_LINES, type RunLogWriter } from "../store/runLog.js";
import type { PendingApproval, RunRecord, RunResult, TargetStatus, Trigger } from "../types.js";
import { stableJson } from "../util.js";
import { driftedResources, specDigest } from "./decide.js";
import { buildInventory } from "./inventory.js";
import { resourceHistoryEntries } from "./resourceHistory.js";
import { collectSecrets } from "./stackRequest.js";
import { stateResources } from "./stackState.js";
import { deferredStatus } from "./status.js";

/** A step ends the run early with this result. */
export interface Stop {
  readonly stop: RunResult;
}

/** One step of a run: does its part, or stops the run with a result. */
// biome-ignore lint/suspicious/noConfusingVoidType: a step that lets the run go on returns nothing
export type Step = (ctx: RunContext) => Promise<void | Stop> | void | Stop;

/** What the steps of one run share. */
export interface RunContext {
  readonly rt: Runtime;
  readonly state: TargetState;
  readonly target: ResolvedTarget;
  readonly run: PendingRun;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly redactor: Redactor;
  readonly lines: string[];
  /** Stores the run's log as it goes. */
  readonly logWriter: RunLogWriter;
  /** Renders the engine's progress as log lines, once per notice across the run's operations. */
  readonly engineLines: EngineProgressRenderer;
  /** How long each step that ran took, in order (the failing one included). */
  readonly timings: { readonly step: string; readonly ms: number }[];
  /** The run decided to work: it no longer holds a decision slot. */
  readonly decided: () => void;
  /** Steps of a ref preview: scratch checkout, no lease, nothing recorded. */
  readonly ephemeral: boolean;
  /** When the run left the queue (epoch milliseconds). */
  readonly startedAt: number;
  status: TargetStatus;
  /** What the run reports as its trigger (a scheduled check that only resyncs says `resync`). */
  trigger: Trigger;
  revision?: string;
  /**
   * The applied revision whose tree {@link revision} holds at the target's
   * paths, when it is not that revision: the run treats the revision as
   * applied (nothing from Git to apply).
   */
  sameTreeAs?: string;
  /** The commit the program runs as (`DRIFTLESS_GIT_COMMIT`); see `TargetStatus.programRevision`. */
  programRevision?: string;
  /** A person approved this revision. */
  approved: boolean;
  /** Whether the run was recorded as started (only runs that do work are). */
  recorded: boolean;
  checkoutDir?: string;
  projectDir?: string;
  request?: StackRequest;
  /** Digest of the dependency outputs passed as config, recorded once applied. */
  depsDigest?: string;
  /** The approved plan was not applied (state changed or file gone): approve the new one only if identical. */
  replanned: boolean;
  planFile?: string;
  /**
   * The stack's state digest the preview planned against (an apply whose
   * `up` does not refresh): the `up` starts only from that same state.
   */
  planState?: string;
  /** A watch's drift check: refresh and plan only these resources (changed objects, their parents). */
  refreshScope?: readonly string[];
  /** The `up` refreshes again (a drift check's preview refreshed without keeping the state). */
  upRefresh?: boolean;
  /** How often this run planned again because the state moved before its `up`. */
  replans: number;
  plan?: Plan;
  /**
   * Resource types whose replacements this run's preview and `up` make
   * delete-before-replace: a person approved replacing objects by themselves.
   */
  deleteFirst?: readonly string[];
  counts?: ChangeCounts;
  drift: boolean;
  /** The plan holds changes from Git that are not applied (besides drift). */
  changesPending?: boolean;
  /** Why the run waited instead of running (a dependency that is not ready). */
  deferredBy?: string;
  /** When the change window opens for a `deferred` run. */
  windowOpensAt?: Date;
  /** When the upstream's revision becomes due for promotion. */
  promotionDueAt?: Date;
  /** The plan a `awaiting-approval` run holds. */
  approval?: PendingApproval;
  steps?: Plan["steps"];
  outputs?: Readonly<Record<string, unknown>>;
  /** How a ref preview type-checked the program. */
  typeCheck?: TypeCheck;
  /** Errors the engine reported on resources during the run, by URN (redacted), for the inventory. */
  readonly resourceErrors: Map<string, string>;
  /** The resources whose step an `up` of the run completed, for the inventory. */
  readonly completed: Set<string>;
  /** An `up` started: the state is newer than what the preview's refresh read. */
  upStarted?: boolean;
  /** The stack's state as the run last read it, while nothing the run did may have written it since (see `stackState.ts`). */
  stateRead?: StackState;
  /** Released when the run ends (stack lease, engine slot), last first. */
  readonly releases: (() => void | Promise<void>)[];
  progress(step: string, message: string, engine?: EngineProgress): void;
}

/** The engine's step operations that change a resource (a `refresh`, `read` or `same` does not). */
const CHANGING_OPS: ReadonlySet<string> = new Set([
  "create",
  "update",
  "delete",
  "replace",
  "create-replacement",
  "delete-replaced",
]);

/** Engine options that report the engine's progress into the run's log. */
export function engineOptions(ctx: RunContext, refresh: boolean): EngineOperationOptions {
  return {
    refresh,
    signal: ctx.signal,
    onProgress: (event: EngineProgress) => {
      if (event.kind === "diagnostic" && event.severity === "error" && event.urn && !ctx.ephemeral)
        ctx.resourceErrors.set(event.urn, ctx.redactor.redact(event.message.trim()));
      if (event.kind === "resource" && event.done && !event.preview && CHANGING_OPS.has(event.op))
        ctx.completed.add(event.urn);
      const text = ctx.engineLines.render(event);
      if (text !== undefined) ctx.progress("engine", text, event);
    },
  };
}

/** Runs the steps in order until one stops the run; `undefined` when all ran without a result. */
export async function runSteps(ctx: RunContext, steps: readonly Step[]): Promise<RunResult | undefined> {
  const { clock } = ctx.rt.options;
  for (const step of steps) {
    const began = clock.now();
    try {
      const outcome = await step(ctx);
      if (outcome) return outcome.stop;
    } finally {
      ctx.timings.push({ step: step.name || "step", ms: clock.now() - began });
    }
  }
  return undefined;
}

/**
 * The log line that sums up a run's steps, in order: `[steps] resolveRevision
 * 262 ms; decide; acquire 3 ms; …` (parsed by the dashboard's run page). A
 * step that took under a millisecond is named without a time: a column of
 * "0 ms" says nothing in a text log.
 */
export function stepsLine(timings: RunContext["timings"]): string {
  return timings.map((t) => (Math.round(t.ms) > 0 ? `${t.step} ${Math.round(t.ms)} ms` : t.step)).join("; ");
}

/** Builds the context of a run taken from the queue. */
export function newRunContext(
  rt: Runtime,
  state: TargetState,
  run: PendingRun,
  signal: AbortSignal,
  decided: () => void,
): RunContext {
  const target = state.spec;
  // The store's password may echo back from the engine (a backend error), and a
  // program may print what it can find of the service's secrets: none leaves a run.
  const redactor = new Redactor().add(
    ...Object.values(rt.options.stateBackend?.env ?? {}),
    ...readableSecrets(rt.options.secrets),
  );
  const lines: string[] = [];
  const log = rt.options.logger.child({ target: target.name, runId: run.id });
  const logWriter = rt.recorder.logWriter(run.id, log);
  const ctx: RunContext = {
    rt,
    state,
    target,
    run,
    signal,
    log,
    redactor,
    lines,
    logWriter,
    engineLines: new EngineProgressRenderer(),
    timings: [],
    decided,
    ephemeral: false,
    startedAt: rt.options.clock.now(),
    status: rt.recorder.status(target.name),
    trigger: run.trigger,
    approved: false,
    recorded: false,
    replanned: false,
    replans: 0,
    drift: false,
    resourceErrors: new Map(),
    completed: new Set(),
    releases: [],
    progress: (step, message, engine) =>
      rt.recorder.progress(
        {
          target: target.name,
          runId: run.id,
          ...(ctx.revision ? { revision: ctx.revision } : {}),
          lines,
          writer: logWriter,
          log,
          redact: (text) => redactor.redact(text),
        },
        step,
        message,
        engine,
      ),
  };
  return ctx;
}

/** Records a run as started (once): its history row, `Reconciling` and the `run.started` event. */
export async function recordStart(ctx: RunContext): Promise<void> {
  if (ctx.recorded || ctx.ephemeral) return;
  ctx.recorded = true;
  await ctx.rt.recorder.started(
    {
      id: ctx.run.id,
      target: ctx.target.name,
      trigger: ctx.trigger,
      ...(ctx.revision ? { revision: ctx.revision } : {}),
      startedAt: new Date(ctx.startedAt).toISOString(),
      drift: false,
      log: "",
      ...(ctx.run.override ? { override: ctx.run.override } : {}),
      ...(ctx.status.approvedBy && ctx.approved ? { approval: ctx.status.approvedBy } : {}),
    },
    ctx.rt.owner,
    ctx.logWriter,
  );
}

/** How a run ended, for what comes after it. */
export interface RunEnd {
  /** The stack's outputs changed (dependents run again). */
  readonly outputsChanged: boolean;
  /** The run was recorded in history (it did work). */
  readonly recorded: boolean;
  /** Neither skipped nor failed: the retry backoff starts afresh. */
  readonly succeeded: boolean;
  readonly followUps: FollowUps;
}

/**
 * Executes one queued run to its end; resolves whether it was recorded, the
 * stack's outputs changed, and what the scheduler should do next.
 */
export async function executeRun(
  rt: Runtime,
  state: TargetState,
  run: PendingRun,
  steps: readonly Step[],
  decided: () => void,
): Promise<RunEnd> {
  try {
    return await executeRecorded(rt, state, run, steps, decided);
  } catch (error) {
    // Another replica owns the target now: this one writes nothing more for it.
    if (error instanceof FencedError) {
      rt.fenced(state.spec.name);
      run.settle(skippedRun(state.spec.name, run, error.message, rt.options.clock.now()));
      return { outputsChanged: false, recorded: false, succeeded: false, followUps: {} };
    }
    // A store that cannot be reached (a database outage) cannot record the run:
    // it ends failed, unrecorded, and is retried once the store answers again.
    if (!(error instanceof StoreUnavailableError)) throw error;
    const now = rt.options.clock.now();
    rt.options.logger.error(
      { target: state.spec.name, runId: run.id, err: error.message },
      "the store is unavailable; the run is retried",
    );
    run.settle({
      id: run.id,
      target: state.spec.name,
      trigger: run.trigger,
      startedAt: new Date(now).toISOString(),
      finishedAt: new Date(now).toISOString(),
      result: "failed",
      drift: false,
      error: error.message,
      log: "",
    });
    return { outputsChanged: false, recorded: false, succeeded: false, followUps: { retry: { error } } };
  }
}

async function executeRecorded(
  rt: Runtime,
  state: TargetState,
  run: PendingRun,
  steps: readonly Step[],
  decided: () => void,
): Promise<RunEnd> {
  const target = state.spec;
  // Another process sharing the store may have written the status of the target or of those it
  // waits for or promotes from (a run of the same target elsewhere, another replica's targets):
  // each run decides on the stored statuses.
  await rt.recorder.refresh([
    target.name,
    ...target.dependsOn,
    ...(target.promote ? [target.promote.from] : []),
  ]);
  const timeout = AbortSignal.timeout(target.timeoutMs);
  const signal = AbortSignal.any([timeout, rt.shutdown, ...run.signals]);
  const ctx = newRunContext(rt, state, run, signal, decided);
  const started = ctx.startedAt;
  const previousOutputs = ctx.status.outputs;
  let result: RunResult = "failed";
  let error: unknown;
  try {
    collectSecrets(target, ctx.redactor);
    result = (await runSteps(ctx, steps)) ?? "failed";
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
    await recordStart(ctx);
  } finally {
    for (const release of ctx.releases.reverse()) await release();
  }
  const summary = ctx.recorded ? stepsLine(ctx.timings) : "";
  if (summary) ctx.progress("steps", summary);
  const message = error
    ? ctx.redactor.redact(error instanceof Error ? error.message : String(error))
    : undefined;
  const finished: RunRecord = {
    id: run.id,
    target: target.name,
    trigger: ctx.trigger,
    ...(ctx.revision ? { revision: ctx.revision } : {}),
    startedAt: new Date(started).toISOString(),
    finishedAt: rt.recorder.now().toISOString(),
    result,
    ...(ctx.counts ? { counts: ctx.counts } : {}),
    drift: ctx.drift,
    ...(message ? { error: message } : {}),
    log: ctx.redactor.redact(ctx.lines.slice(-LOG_LINES).join("\n")),
    ...(run.override ? { override: run.override } : {}),
    ...(ctx.recorded && ctx.status.approvedBy && ctx.approved ? { approval: ctx.status.approvedBy } : {}),
    ...(ctx.steps ? { plan: ctx.steps } : {}),
  };
  if (ctx.recorded) {
    await rt.recorder.finished(
      {
        run: finished,
        ...(error instanceof StalledError ? { stallReason: error.reason as StallReason } : {}),
        ...(ctx.outputs ? { outputs: ctx.outputs } : {}),
        ...(ctx.depsDigest ? { depsDigest: ctx.depsDigest } : {}),
        ...(ctx.approval ? { approval: ctx.approval } : {}),
        ...(ctx.windowOpensAt ? { windowOpensAt: ctx.windowOpensAt } : {}),
        ...(ctx.changesPending !== undefined ? { changesPending: ctx.changesPending } : {}),
        applies: target.mode === "apply",
        specDigest: specDigest(target),
        ...(ctx.programRevision ? { programRevision: ctx.programRevision } : {}),
        ...(ctx.refreshScope ? { targeted: true } : {}),
        ...(ctx.plan?.drift !== undefined ? { driftChecked: true } : {}),
      },
      ctx.log,
      rt.options.clock.now() - started,
      ctx.logWriter,
    );
  }
  if (ctx.recorded && ctx.request && result !== "destroyed") await recordInventory(ctx, finished);
  if (ctx.deferredBy) await deferRun(rt, state, run, ctx.deferredBy);
  run.settle(ctx.deferredBy ? { ...finished, log: `deferred: ${ctx.deferredBy}` } : finished);
  const applied = result === "applied" || result === "drift-corrected";
  const outputsChanged =
    applied && ctx.outputs !== undefined && stableJson(ctx.outputs) !== stableJson(previousOutputs ?? {});
  return {
    outputsChanged,
    recorded: ctx.recorded,
    succeeded: !["skipped", "failed", "stalled", "cancelled"].includes(result),
    followUps: {
      ...(result === "failed" || (result === "cancelled" && timeout.aborted) ? { retry: { error } } : {}),
      ...(result === "deferred" && ctx.windowOpensAt ? { windowOpensAt: ctx.windowOpensAt } : {}),
      // Applied, one way or another: the window timer of an older deferral has nothing left to do.
      ...(applied || result === "unchanged" ? { applied: true } : {}),
      ...(ctx.promotionDueAt ? { promotionDueAt: ctx.promotionDueAt } : {}),
    },
  };
}

/**
 * Reads the stack's state after a run that reached the engine and stores the
 * target's inventory, with what the run did to each resource. A state that cannot be read or stored (a lost lease, a
 * store away) leaves the last inventory in place; the run's own result stands.
 */
async function recordInventory(ctx: RunContext, run: RunRecord): Promise<void> {
  if (!ctx.request) return;
  try {
    // The run's own read when nothing wrote the state since (a run that only planned reads it once).
    const stored = await stateResources(ctx);
    if (!stored) return;
    // A preview's refresh does not write the state: what it read live is newer, unless an `up` ran since.
    const live = ctx.upStarted ? undefined : ctx.plan?.live;
    const resources = live ? stored.map((r) => withLiveOutputs(r, live.get(r.urn))) : stored;
    const previous = await ctx.rt.options.store.getInventory(ctx.target.name);
    // Read after the run's status was written: drift a correction put back is gone from it.
    const drift = ctx.rt.recorder.status(ctx.target.name).unresolvedDrift;
    const inventory = buildInventory({
      target: ctx.target.name,
      runId: run.id,
      ...(run.revision ? { revision: run.revision } : {}),
      at: run.finishedAt ?? ctx.rt.recorder.now().toISOString(),
      result: run.result ?? "failed",
      resources,
      ...(previous ? { previous } : {}),
      ...(ctx.steps ? { steps: ctx.steps } : {}),
      ...(drift ? { drift: drift.resources } : {}),
      errors: ctx.resourceErrors,
      completed: ctx.completed,
    });
    const changes = resourceHistoryEntries({
      runId: run.id,
      ...(run.revision ? { revision: run.revision } : {}),
      at: inventory.at,
      result: run.result ?? "failed",
      ...(ctx.steps ? { steps: ctx.steps } : {}),
      ...(ctx.drift && ctx.plan ? { drift: driftedResources(ctx.plan) } : {}),
      ...(previous ? { previous } : {}),
    });
    await ctx.rt.recorder.inventory(inventory, changes);
    ctx.rt.inventoryRead?.(ctx.state, inventory, resources, ctx.stateRead?.secrets);
  } catch (error) {
    // The run is recorded already: a lost lease or store must not turn it into a skipped or
    // failed one. The next run that reaches the engine (here or on the new owner) writes it.
    ctx.log.warn({ err: error }, "could not read or store the stack's resources; the inventory is unchanged");
  }
}

/** A resource with the outputs a refresh read live, when it read any (a gone resource keeps its last ones). */
function withLiveOutputs(
  resource: StateResource,
  live: Readonly<Record<string, unknown>> | null | undefined,
): StateResource {
  return live ? { ...resource, outputs: live } : resource;
}

/** Parks a run until its dependencies are ready; the status says why (not a failure). */
async function deferRun(rt: Runtime, state: TargetState, run: PendingRun, reason: string): Promise<void> {
  const previous = state.deferred;
  state.deferred = {
    trigger: previous ? strongerTrigger(run.trigger, previous.trigger) : run.trigger,
    force: run.force || (previous?.force ?? false),
  };
  await rt.recorder.updateStatus(state.spec.name, (before) =>
    deferredStatus(before, reason, rt.recorder.now()),
  );
  rt.options.logger.info({ target: state.spec.name, runId: run.id }, `run deferred: ${reason}`);
}
