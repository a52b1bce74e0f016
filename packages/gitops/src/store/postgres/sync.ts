/**
 * Synchronous queries on a node-postgres pool. The store interfaces are
 * synchronous (SQLite answers in microseconds, and callers such as status
 * reads in HTTP handlers rely on that), so the pool lives in a worker thread
 * and each call waits on a shared signal for its answer — the same blocking
 * model as better-sqlite3, with a bounded wait instead of a disk read.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { PoolConfig } from "pg";
import { StoreUnavailableError } from "../../errors.js";
import type { PgCommand, PgNotification, PgReply } from "./worker.js";

/** One row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** The longest a call waits for the database before it fails (connecting is bounded at 5 s by the pool). */
const CALL_TIMEOUT_MS = 15_000;

/** The worker's file beside this one: `.ts` when running from the sources (Node strips the types), `.js` when built. */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return new URL(`./worker.${ext}`, import.meta.url);
}

/** A database error, with PostgreSQL's SQLSTATE code when it has one. */
export class PostgresQueryError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "PostgresQueryError";
    this.code = code;
  }
}

/** Queries and transactions on a node-postgres pool, answered synchronously. */
export class SyncPostgres {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #notifications: MessagePort;
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();
  readonly #signal = new Int32Array(new SharedArrayBuffer(4));
  #next = 0;
  #inTransaction = false;
  #failed = false;
  #open = true;

  constructor(connection: PoolConfig) {
    const { port1, port2 } = new MessageChannel();
    const notifications = new MessageChannel();
    this.#port = port1;
    this.#notifications = notifications.port1;
    this.#worker = new Worker(workerUrl(), {
      workerData: { port: port2, notifications: notifications.port2, signal: this.#signal, connection },
      transferList: [port2, notifications.port2],
    });
    this.#notifications.on("message", ({ channel, payload }: PgNotification) => {
      for (const listener of this.#listeners.get(channel) ?? []) listener(payload);
    });
    this.#notifications.unref();
    // The pool must not keep a finished process alive; close() ends it anyway.
    this.#worker.unref();
    // A worker that died makes every call fail at once, rather than the process crash.
    this.#worker.on("error", () => {
      this.#failed = true;
    });
    port1.unref();
  }

  get isOpen(): boolean {
    return this.#open;
  }

  #call(request: PgCommand): PgReply & { ok: true } {
    if (!this.#open) throw new StoreUnavailableError("the PostgreSQL store is closed");
    if (this.#failed) throw new StoreUnavailableError("the PostgreSQL store's worker thread stopped");
    const id = ++this.#next;
    Atomics.store(this.#signal, 0, 0);
    this.#port.postMessage({ ...request, id });
    const deadline = Date.now() + CALL_TIMEOUT_MS;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new StoreUnavailableError(`PostgreSQL did not answer within ${CALL_TIMEOUT_MS} ms`);
      Atomics.wait(this.#signal, 0, 0, left);
      // Answers to calls that timed out earlier may arrive first: skip them.
      for (let message = receiveMessageOnPort(this.#port); message; ) {
        const reply = message.message as PgReply;
        if (reply.id === id) {
          if (!reply.ok) throw toError(reply);
          return reply;
        }
        message = receiveMessageOnPort(this.#port);
      }
      Atomics.store(this.#signal, 0, 0);
    }
  }

  /** Runs one statement with `$1`-style parameters. */
  query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): { rows: T[]; rowCount: number } {
    const reply = this.#call({ op: "query", sql, params });
    return { rows: reply.rows as T[], rowCount: reply.rowCount };
  }

  /** Runs `work` in one transaction on one connection: committed when it returns, rolled back when it throws. */
  transaction<T>(work: () => T): T {
    if (this.#inTransaction) return work();
    try {
      this.#call({ op: "begin" });
    } catch (error) {
      // The worker may still open the transaction after this gave up: end it, without waiting.
      this.#port.postMessage({ op: "rollback", id: ++this.#next });
      throw error;
    }
    this.#inTransaction = true;
    try {
      const result = work();
      this.#inTransaction = false;
      this.#call({ op: "commit" });
      return result;
    } catch (error) {
      if (this.#inTransaction) {
        this.#inTransaction = false;
        try {
          this.#call({ op: "rollback" });
        } catch {
          // The connection is gone with its transaction; the first error says why.
        }
      }
      throw error;
    }
  }

  /**
   * Calls `listener` with the payload of each `NOTIFY` on `channel`, as they
   * come (asynchronously), on a connection of its own that reconnects after
   * a database restart; notifications sent while it was down are lost.
   * Returns the function that stops calling it.
   */
  listen(channel: string, listener: (payload: string) => void): () => void {
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
      try {
        this.#call({ op: "listen", channel });
      } catch {
        // The database is away: the worker keeps connecting and listens once it is back.
      }
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Ends the pool and the worker. Closing twice is harmless. */
  close(): void {
    if (!this.#open) return;
    try {
      this.#call({ op: "end" });
    } catch {
      // Ending a pool whose database is gone still frees this side.
    } finally {
      this.#open = false;
      this.#notifications.close();
      void this.#worker.terminate();
    }
  }
}

function toError(reply: PgReply & { ok: false }): Error {
  // Connection failures (refused, reset, terminated by a restart) make the store unavailable, not the request wrong.
  const unavailable =
    (reply.code !== undefined && /^(08|57P)/.test(reply.code)) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|Connection terminated|not queryable|timeout exceeded when trying to connect/i.test(
      reply.message,
    );
  return unavailable
    ? new StoreUnavailableError(`PostgreSQL is unavailable: ${reply.message}`)
    : new PostgresQueryError(reply.message, reply.code);
}
