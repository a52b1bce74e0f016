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
import type {
  Fence,
  ResourceHistoryEntry,
  RunRecord,
  TargetInventory,
  TargetStatus,
  UnresolvedDrift,
} from "../types.js";
import { sameJson } from "../util.js";
import {
  driftFoundStatus,
  finishStatus,
  initialStatus,
  type RunOutcome,
  sameTreeStatus,
  startedStatus,
} from "./status.js";

/** Up to this many targets, {@link Recorder.refresh} reads them one by one rather than every status. */
const REFRESH_ONE_BY_ONE = 8;

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

/**
 * Status and history writes, events and progress lines. Keeps the view of
 * target status that synchronous reads are answered from: every status this
 * process writes, and what {@link load} and {@link refresh} read from the store
 * (statuses other processes write).
 */
export class Recorder {
  readonly #store: Store;
  readonly #view = new Map<string, TargetStatus>();
  /** Per target, the status write in progress: transitions apply one after another. */
  readonly #writes = new Map<string, Promise<unknown>>();
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

  /** A target's status from the view (an empty one for a target never stored). */
  status(name: string): TargetStatus {
    return this.#view.get(name) ?? initialStatus(name, this.now());
  }

  /** Reads the stored statuses of `names` into the view (all when omitted). */
  async refresh(names?: readonly string[]): Promise<void> {
    const wanted = names && new Set(names);
    // A few targets one by one (a run's own and its upstreams), many in one read.
    const read =
      names && names.length <= REFRESH_ONE_BY_ONE
        ? (await Promise.all(names.map((n) => this.#store.getStatus(n)))).filter((s) => s !== undefined)
        : await this.#store.listStatuses();
    for (const status of read) {
      // A write of this process in progress is newer than what was read.
      if ((wanted && !wanted.has(status.name)) || this.#writes.has(status.name)) continue;
      // An unchanged status keeps the object the view has: with replicas this runs after every
      // heartbeat for every target others own, and replacing each would keep a second copy of
      // every status alive until the next heartbeat (promoted, then garbage in the old generation).
      const before = this.#view.get(status.name);
      if (!before || !sameJson(before, status)) this.#view.set(status.name, status);
    }
  }

  /**
   * The one place status is written: applies a transition to the status,
   * stores it and then updates the view. Transitions of one target apply in
   * order, each to the result of the one before.
   * @throws FencedError when this process no longer holds the target
   */
  updateStatus(name: string, transition: (before: TargetStatus) => TargetStatus): Promise<TargetStatus> {
    const previous = this.#writes.get(name) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(async () => {
        const next = transition(this.status(name));
        await this.#store.putStatus(next, this.#fence(name));
        this.#view.set(name, next);
        return next;
      });
    this.#writes.set(name, write);
    const settle = () => {
      if (this.#writes.get(name) === write) this.#writes.delete(name);
    };
    write.then(settle, settle);
    return write;
  }

  /**
   * Stores an empty status for a target seen for the first time, and reads its status into the view.
   * A target the view has is stored already (the view holds only what was read from the store or
   * written to it): at start-up, after {@link refresh}, that spares two queries per known target.
   */
  async ensureStatus(name: string): Promise<void> {
    if (this.#view.has(name)) return;
    await this.#store.insertStatus(initialStatus(name, this.now()));
    const stored = await this.#store.getStatus(name);
    if (stored && !this.#writes.has(name)) this.#view.set(name, stored);
  }

  /** {@link ensureStatus} for each target in turn; a store that does not answer is logged, and stores it at the next write. */
  async ensureStatuses(names: readonly string[], log: Logger): Promise<void> {
    for (const name of names) {
      try {
        await this.ensureStatus(name);
      } catch (error) {
        log.warn({ target: name, err: (error as Error).message }, "could not store a new target's status");
      }
    }
  }

  /** Forgets a removed target's status in the view. */
  forget(name: string): void {
    this.#view.delete(name);
  }

  /** A writer for a run's log, storing nothing until the run is {@link started}. */
  logWriter(runId: string, log: Logger): RunLogWriter {
    return new RunLogWriter(this.#store, runId, log);
  }

  /** Records a run's start in history and status, and says so; its log is stored from now on. */
  async started(run: RunRecord, owner: string, writer?: RunLogWriter): Promise<void> {
    await this.#store.startRun(run, owner, this.#fence(run.target));
    writer?.open();
    await this.updateStatus(run.target, (before) => startedStatus(before, run.id, this.now()));
    this.#events.emit("run.started", { target: run.target, runId: run.id, trigger: run.trigger });
  }

  /** Records drift a run found, in its history row and the target's status, before the run goes on. */
  async driftFound(target: string, drift: UnresolvedDrift): Promise<void> {
    await this.#store.markRunDrift({ id: drift.runId, target }, this.#fence(target));
    await this.updateStatus(target, (before) => driftFoundStatus(before, drift, this.now()));
  }

  /** Records a revision with the applied revision's tree as applied, without a run (see `sameTreeStatus`). */
  async sameTreeApplied(target: string, revision: string): Promise<void> {
    let result: ReturnType<typeof sameTreeStatus> | undefined;
    await this.updateStatus(target, (before) => {
      result = sameTreeStatus(before, revision, this.now());
      return result.status;
    });
    for (const event of result?.events ?? []) this.#events.emit(event.name, event.payload as never);
  }

  /**
   * Records a run's end: the rest of its log, then history (a finished run's
   * log is complete), status and the events of its transitions.
   */
  async finished(outcome: RunOutcome, log: Logger, durationMs: number, writer?: RunLogWriter): Promise<void> {
    const { run } = outcome;
    await writer?.close();
    const fence = this.#fence(run.target);
    await this.#store.finishRun(run, fence);
    let result: ReturnType<typeof finishStatus> | undefined;
    await this.updateStatus(run.target, (before) => {
      result = finishStatus(before, outcome, this.now());
      return result.status;
    });
    const { events, filesToDelete } = result as ReturnType<typeof finishStatus>;
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

  /**
   * Stores a target's inventory after a run, and what the run did to each
   * resource; then emits `resources.recorded` (the run's `run.finished` came before).
   * @throws FencedError when this process no longer holds the target
   */
  async inventory(inventory: TargetInventory, changes: readonly ResourceHistoryEntry[] = []): Promise<void> {
    const fence = this.#fence(inventory.target);
    await this.#store.putInventory(inventory, fence);
    await this.#store.recordResourceChanges(inventory.target, changes, fence);
    this.#events.emit("resources.recorded", { target: inventory.target, runId: inventory.runId });
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
