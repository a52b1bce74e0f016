/**
 * Run logs as they are written and read: a writer that appends a run's lines
 * to the store in batches while the run goes, and a reader that follows a log
 * until its run finishes.
 */
import type { Logger } from "pino";
import type { RunLogChunk, RunRecord } from "../types.js";
import { sleep } from "../util.js";
import type { RunHistory, RunLogStore } from "./store.js";

/** Lines of a run's log kept in its history row. */
export const LOG_LINES = 200;

/** How often lines written since the last append are appended, in milliseconds. */
export const LOG_FLUSH_MS = 250;

/** Longest log stored per run, in UTF-16 code units; later lines are dropped with one notice. */
export const MAX_LOG_CHARS = 4 * 1024 * 1024;

/**
 * Appends one run's log lines to the store: every {@link LOG_FLUSH_MS} while
 * lines come, and at once on {@link close}. Lines written before {@link open}
 * are held until then, so a run that is never recorded leaves no log.
 */
export class RunLogWriter {
  readonly #store: RunLogStore;
  readonly #runId: string;
  readonly #log: Logger;
  readonly #flushMs: number;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #open = false;
  #closed = false;
  #written = 0;
  /** The appends in flight, one after another so the log keeps its order. */
  #appending: Promise<void> = Promise.resolve();

  constructor(store: RunLogStore, runId: string, log: Logger, flushMs = LOG_FLUSH_MS) {
    this.#store = store;
    this.#runId = runId;
    this.#log = log;
    this.#flushMs = flushMs;
  }

  /** Adds one line (without its newline). */
  write(line: string): void {
    if (this.#closed) return;
    this.#pending.push(line);
    this.#schedule();
  }

  /** Starts storing: the run is recorded, so its log has a run to belong to. */
  open(): void {
    if (this.#open || this.#closed) return;
    this.#open = true;
    this.#schedule();
  }

  /** Appends what is pending now; resolves when every append so far is stored (or failed and was logged). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#open || this.#pending.length === 0) return this.#appending;
    let chunk = `${this.#pending.join("\n")}\n`;
    this.#pending = [];
    if (this.#written >= MAX_LOG_CHARS) return this.#appending;
    if (this.#written + chunk.length > MAX_LOG_CHARS) {
      chunk = `${chunk.slice(0, MAX_LOG_CHARS - this.#written).replace(/[^\n]*$/, "")}[log] the log reached ${MAX_LOG_CHARS} characters; later lines are not stored\n`;
    }
    this.#written += chunk.length;
    const text = chunk;
    this.#appending = this.#appending.then(() =>
      this.#store.appendLog(this.#runId, text).catch((error: unknown) => {
        // A log that cannot be stored must not fail the run it describes.
        this.#log.warn({ err: error }, "could not store run log lines");
      }),
    );
    return this.#appending;
  }

  /** Appends what is left; later lines are dropped. Resolves once everything is stored. */
  close(): Promise<void> {
    const done = this.flush();
    this.#closed = true;
    return done;
  }

  #schedule(): void {
    if (!this.#open || this.#timer || this.#pending.length === 0) return;
    this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
    this.#timer.unref();
  }
}

/** Options of {@link followRunLog}. */
export interface FollowLogOptions {
  /** Where to start, as a {@link RunLogChunk} offset. @default 0 */
  readonly from?: number;
  /** Stops following (a client went away). */
  readonly signal?: AbortSignal;
  /** How often the store is read for new lines, in milliseconds. @default 250 */
  readonly pollMs?: number;
}

/**
 * A run's log as it grows: yields each new stretch with the offset it ends
 * at, and returns once the run is finished and everything it wrote was
 * yielded, or when the signal aborts. Reads the store, so it follows runs of
 * any process sharing it.
 */
export async function* followRunLog(
  store: RunLogStore & Pick<RunHistory, "getRun">,
  runId: string,
  options: FollowLogOptions = {},
): AsyncGenerator<{ readonly text: string; readonly offset: number }> {
  let offset = options.from ?? 0;
  const { signal } = options;
  while (!signal?.aborted) {
    // Finished before the read, so the read holds every line the run wrote.
    const finished = (await store.getRun(runId))?.finishedAt !== undefined;
    const chunk = await store.readLog(runId, offset);
    offset = chunk.offset;
    if (chunk.text !== "") yield chunk;
    if (finished) return;
    try {
      await sleep(options.pollMs ?? LOG_FLUSH_MS, signal);
    } catch {
      return;
    }
  }
}

/** A stretch of a run's log, and whether the run finished (so the log will not grow). */
export interface RunLogRead extends RunLogChunk {
  readonly complete: boolean;
}

/**
 * A run's log from an offset to its current end; `undefined` for an unknown run.
 * @param from - where to start, an offset a previous read returned
 */
export async function readRunLog(
  store: RunLogStore & Pick<RunHistory, "getRun">,
  runId: string,
  from = 0,
): Promise<RunLogRead | undefined> {
  const run = await store.getRun(runId);
  if (!run) return undefined;
  return { ...(await store.readLog(runId, from)), complete: run.finishedAt !== undefined };
}

/**
 * A run with the last `lines` lines of its stored log in `log` when its row
 * has none: a run in progress, or one whose process died.
 */
export async function withLogTail(store: RunLogStore, run: RunRecord, lines = LOG_LINES): Promise<RunRecord> {
  if (run.log !== "" && run.finishedAt !== undefined) return run;
  const text = (await store.readLog(run.id)).text;
  return text === "" ? run : { ...run, log: text.trimEnd().split("\n").slice(-lines).join("\n") };
}
