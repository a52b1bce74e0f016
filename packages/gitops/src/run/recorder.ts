/**
 * Records what runs do: the one writer of target status, run history rows at
 * start and finish, progress lines for the run log (stored as the run goes,
 * see `runLog.ts`), and the events and log messages that go with them.
 */
import { rmSync } from "node:fs";
import type { Logger } from "pino";
import type { EngineProgress } from "../engine/types.js";
import type { ReconcilerEvents, TypedEmitter } from "../events.js";
import type { Clock } from "../options.js";
import { LOG_LINES, RunLogWriter } from "../store/runLog.js";
import type { Store } from "../store/store.js";
import type { Fence, RunRecord, TargetStatus, UnresolvedDrift } from "../types.js";
import { driftFoundStatus, finishStatus, initialStatus, type RunOutcome, startedStatus } from "./status.js";

/** A run's log as it is written. */
export interface RunLog {
  readonly target: string;
  readonly runId: string;
  readonly revision?: string;
  readonly lines: string[];
  /** Stores the lines while the run goes, once the run is recorded. */
  readonly writer: RunLogWriter;
  readonly log: Logger;
  readonly redact: (text: string) => string;
}

/** Status and history writes, events and progress lines. */
export class Recorder {
  readonly #store: Store;
  readonly #events: TypedEmitter<ReconcilerEvents>;
  readonly #clock: Clock;
  readonly #fence: (target: string) => Fence | undefined;

  /**
   * @param fence - the lease epoch this process writes a target with (replicas);
   *   a write with a stale one is refused with `FencedError`
   */
  constructor(
    store: Store,
    events: TypedEmitter<ReconcilerEvents>,
    clock: Clock,
    fence: (target: string) => Fence | undefined = () => undefined,
  ) {
    this.#store = store;
    this.#events = events;
    this.#clock = clock;
    this.#fence = fence;
  }

  /** The time now, from the reconciler's clock. */
  now(): Date {
    return new Date(this.#clock.now());
  }

  /** A target's status (an empty one for a target never stored). */
  status(name: string): TargetStatus {
    return this.#store.getStatus(name) ?? initialStatus(name, this.now());
  }

  /** The one place status is written: applies a transition to the stored status. */
  updateStatus(name: string, transition: (before: TargetStatus) => TargetStatus): TargetStatus {
    const next = transition(this.status(name));
    this.#store.putStatus(next, this.#fence(name));
    return next;
  }

  /** Stores an empty status for a target seen for the first time. */
  ensureStatus(name: string): void {
    this.#store.insertStatus(initialStatus(name, this.now()));
  }

  /** A writer for a run's log, storing nothing until the run is {@link started}. */
  logWriter(runId: string, log: Logger): RunLogWriter {
    return new RunLogWriter(this.#store, runId, log);
  }

  /** Records a run's start in history and status, and says so; its log is stored from now on. */
  started(run: RunRecord, owner: string, writer?: RunLogWriter): void {
    this.#store.startRun(run, owner, this.#fence(run.target));
    writer?.open();
    this.updateStatus(run.target, (before) => startedStatus(before, run.id, this.now()));
    this.#events.emit("run.started", { target: run.target, runId: run.id, trigger: run.trigger });
  }

  /** Records drift a run found, in its history row and the target's status, before the run goes on. */
  driftFound(target: string, drift: UnresolvedDrift): void {
    this.#store.markRunDrift({ id: drift.runId, target }, this.#fence(target));
    this.updateStatus(target, (before) => driftFoundStatus(before, drift, this.now()));
  }

  /**
   * Records a run's end: the rest of its log, then history (a finished run's
   * log is complete), status and the events of its transitions.
   */
  finished(outcome: RunOutcome, log: Logger, durationMs: number, writer?: RunLogWriter): void {
    const { run } = outcome;
    writer?.close();
    const fence = this.#fence(run.target);
    this.#store.finishRun(run, fence);
    const before = this.status(run.target);
    const { status, events, filesToDelete } = finishStatus(before, outcome, this.now());
    this.#store.putStatus(status, fence);
    for (const file of filesToDelete) rmSync(file, { force: true });
    for (const event of events) this.#events.emit(event.name, event.payload as never);
    if (run.error) log.error({ revision: run.revision, result: run.result }, run.error);
    else log.info({ revision: run.revision, result: run.result, counts: run.counts }, `run ${run.result}`);
    this.#events.emit("run.finished", {
      target: run.target,
      runId: run.id,
      result: run.result ?? "failed",
      ...(run.revision ? { revision: run.revision } : {}),
      ...(run.counts ? { counts: run.counts } : {}),
      drift: run.drift,
      durationMs,
      ...(run.error ? { error: run.error } : {}),
    });
  }

  /** Adds a line to a run's log and reports it as progress. */
  progress(run: RunLog, step: string, message: string, engine?: EngineProgress): void {
    const text = run.redact(message);
    const line = `${this.now().toISOString()} [${step}] ${text}`;
    run.lines.push(line);
    run.writer.write(line);
    if (run.lines.length > LOG_LINES * 2) run.lines.splice(0, run.lines.length - LOG_LINES);
    run.log.debug({ revision: run.revision, step }, text);
    this.#events.emit("run.progress", {
      target: run.target,
      runId: run.runId,
      step,
      message: text,
      ...(engine ? { engine } : {}),
    });
  }
}
