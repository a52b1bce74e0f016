/**
 * Asynchronous queries on a node-postgres pool, on the main thread. Every
 * wait is bounded: connecting, acquiring a pooled connection, each query on
 * the client (`query_timeout`) and on the server (`statement_timeout`).
 */
import pg from "pg";
import { StoreUnavailableError } from "../../errors.js";

/** One row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** The bounds on waiting for the database, in milliseconds. */
export interface PostgresTimeouts {
  /** Connecting a new connection, and waiting for a free pooled one. @default 5000 */
  readonly connectMs: number;
  /** How long the server runs one statement before cancelling it (`statement_timeout`). @default 10000 */
  readonly statementMs: number;
  /** How long the client waits for one query's answer before giving up on its connection. @default 12000 */
  readonly queryMs: number;
  /**
   * How long a statement waits for a row another connection locked (`lock_timeout`)
   * before it fails: a replica paused or cut off in the middle of a transaction
   * must not hold the others' heartbeats until their leases lapse. @default 2000
   */
  readonly lockMs: number;
  /**
   * How long the server keeps a transaction whose client sent nothing
   * (`idle_in_transaction_session_timeout`) before ending its session and
   * freeing its locks: the transactions here send their statements back to
   * back, so only a stopped or cut-off client idles this long. @default 2000
   */
  readonly idleInTransactionMs: number;
}

/**
 * The default bounds: a statement times out on the server before the client
 * gives up on it; a lock held by a client that stopped is given up well
 * within a replica's lease (20 s by default).
 */
export const DEFAULT_TIMEOUTS: PostgresTimeouts = {
  connectMs: 5000,
  statementMs: 10_000,
  queryMs: 12_000,
  lockMs: 2000,
  idleInTransactionMs: 2000,
};

/** How often an open breaker probes the database, in milliseconds. */
const PROBE_MS = 1000;

// BIGINT columns hold epoch milliseconds, well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** A database error, with PostgreSQL's SQLSTATE code when it has one. */
export class PostgresQueryError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "PostgresQueryError";
    this.code = code;
  }
}

/** What runs statements: the pool, or one connection inside a transaction. */
export interface Queryable {
  /** Runs one statement with `$1`-style parameters. */
  query<T extends Row = Row>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: T[]; rowCount: number }>;
}

/** Queries and transactions on a node-postgres pool. */
export class AsyncPostgres implements Queryable {
  readonly #pool: pg.Pool;
  readonly #config: pg.PoolConfig;
  readonly #timeouts: PostgresTimeouts;
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();
  #listener: pg.Client | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #open = true;
  /**
   * Set while the database is known to be away (a call failed to connect or
   * timed out): calls fail at once with its error, and a probe in the
   * background closes the breaker when the database answers again.
   */
  #breaker:
    | { readonly since: number; readonly error: string; readonly probe: NodeJS.Timeout; probing: boolean }
    | undefined;

  constructor(connection: pg.PoolConfig, timeouts: Partial<PostgresTimeouts> = {}) {
    const bounds = { ...DEFAULT_TIMEOUTS, ...timeouts };
    this.#timeouts = bounds;
    this.#config = {
      ...connection,
      connectionTimeoutMillis: bounds.connectMs,
      statement_timeout: bounds.statementMs,
      query_timeout: bounds.queryMs,
      lock_timeout: bounds.lockMs,
      idle_in_transaction_session_timeout: bounds.idleInTransactionMs,
    };
    this.#pool = new pg.Pool({ max: 4, idleTimeoutMillis: 30_000, allowExitOnIdle: true, ...this.#config });
    // A connection dropped while idle (a database restart) is an error on the
    // pool, not a crash: the next query connects again.
    this.#pool.on("error", () => undefined);
    // A connection dropped while checked out fails its next query; once per connection.
    this.#pool.on("connect", (client) => client.on("error", () => undefined));
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** The bounds this pool waits within. */
  get timeouts(): PostgresTimeouts {
    return this.#timeouts;
  }

  /** Whether calls fail at once because the database was found away (and why); `undefined` when closed. */
  get outage(): { readonly since: number; readonly error: string } | undefined {
    const breaker = this.#breaker;
    return breaker && { since: breaker.since, error: breaker.error };
  }

  /** Throws at once while closed or while the breaker is open. */
  #check(): void {
    if (!this.#open) throw new StoreUnavailableError("the PostgreSQL store is closed");
    const breaker = this.#breaker;
    if (breaker) {
      throw new StoreUnavailableError(
        `PostgreSQL is unavailable (since ${new Date(breaker.since).toISOString()}, retried in the background): ${breaker.error}`,
      );
    }
  }

  /** Converts a driver error; one that says the database is away opens the breaker. */
  #fail(error: unknown): Error {
    const converted = toError(error);
    if (converted instanceof StoreUnavailableError && this.#open && !this.#breaker) {
      const probe = setInterval(() => void this.#probe(), PROBE_MS);
      probe.unref();
      this.#breaker = { since: Date.now(), error: converted.message, probe, probing: false };
    }
    return converted;
  }

  /** One probe of an open breaker: closes it when the database answers. */
  async #probe(): Promise<void> {
    const breaker = this.#breaker;
    if (!breaker || breaker.probing) return;
    breaker.probing = true;
    try {
      await this.#pool.query("SELECT 1");
      clearInterval(breaker.probe);
      if (this.#breaker === breaker) this.#breaker = undefined;
    } catch {
      // Still away: the next probe tries again.
    } finally {
      breaker.probing = false;
    }
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: T[]; rowCount: number }> {
    this.#check();
    try {
      const result = await this.#pool.query(sql, params as unknown[]);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    } catch (error) {
      throw this.#fail(error);
    }
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#check();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#fail(error);
    }
    const tx: Queryable = {
      query: async <R extends Row = Row>(sql: string, params: readonly unknown[] = []) => {
        try {
          const result = await client.query(sql, params as unknown[]);
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        } catch (error) {
          throw this.#fail(error);
        }
      },
    };
    let broken = false;
    try {
      await tx.query("BEGIN");
      const result = await work(tx);
      await tx.query("COMMIT");
      return result;
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch {
        // The connection is gone with its transaction; the first error says why.
        broken = true;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Calls `listener` with the payload of each `NOTIFY` on `channel`, on a
   * connection of its own that reconnects after a database restart;
   * notifications sent while it was down are lost. Resolves once listening,
   * or once connecting failed (bounded; it retries in the background), with
   * the function that stops calling it.
   */
  async listen(channel: string, listener: (payload: string) => void): Promise<() => void> {
    let set = this.#listeners.get(channel);
    const stop = () => {
      set?.delete(listener);
    };
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
      set.add(listener);
      try {
        if (this.#listener) await this.#listener.query(`LISTEN ${quoteIdent(channel)}`);
        else await this.#listen();
      } catch {
        // The database is away: the listening connection retries, and owners poll meanwhile.
      }
      return stop;
    }
    set.add(listener);
    return stop;
  }

  async #listen(): Promise<void> {
    if (!this.#open || this.#listener) return;
    const client = new pg.Client({ ...this.#config });
    this.#listener = client;
    const retry = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => undefined);
      if (this.#open) {
        this.#listenRetry = setTimeout(() => void this.#listen().catch(() => undefined), 1000);
        this.#listenRetry.unref();
      }
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", (message) => {
      for (const listener of this.#listeners.get(message.channel) ?? []) listener(message.payload ?? "");
    });
    try {
      await client.connect();
      // The listening connection must not keep a finished process alive.
      (
        client as unknown as { connection?: { stream?: { unref?: () => void } } }
      ).connection?.stream?.unref?.();
      for (const channel of this.#listeners.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (error) {
      retry();
      throw error;
    }
  }

  /** Ends the pool and the listening connection. Closing twice is harmless. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#listenRetry);
    if (this.#breaker) clearInterval(this.#breaker.probe);
    this.#breaker = undefined;
    const listener = this.#listener;
    this.#listener = undefined;
    // The pool's connections do not keep the process alive (allowExitOnIdle): without a handle of
    // its own while they close, a host with nothing else to do would exit in the middle of close().
    const alive = setInterval(() => undefined, 1000);
    try {
      await listener?.end().catch(() => undefined);
      await this.#pool.end().catch(() => undefined);
    } finally {
      clearInterval(alive);
    }
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function toError(error: unknown): Error {
  const { message = String(error), code } = error as { message?: string; code?: string };
  // Connection failures (refused, reset, terminated by a restart, timeouts) make the store unavailable, not the request wrong.
  const unavailable =
    (code !== undefined && /^(08|57P)/.test(code)) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|Connection terminated|not queryable|timeout exceeded when trying to connect|Query read timeout/i.test(
      message,
    );
  return unavailable
    ? new StoreUnavailableError(`PostgreSQL is unavailable: ${message}`)
    : new PostgresQueryError(message, code);
}
