/**
 * The worker thread behind {@link SyncPostgres}: owns the node-postgres pool
 * and answers one request at a time, waking the waiting thread through the
 * shared signal. Plain TypeScript without runtime-only syntax or relative
 * imports, so Node runs it as it is (type stripping) from the sources too.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import pg from "pg";

/** What the main thread asks. */
export type PgCommand =
  | { readonly op: "query"; readonly sql: string; readonly params: readonly unknown[] }
  | { readonly op: "listen"; readonly channel: string }
  | { readonly op: "begin" | "commit" | "rollback" | "end" };

/** A notification on a channel the worker listens on, posted to the main thread's notification port. */
export interface PgNotification {
  readonly channel: string;
  readonly payload: string;
}

/** A command with the id its reply carries. */
export type PgRequest = PgCommand & { readonly id: number };

/** What a command returned. */
export type PgResult =
  | { readonly ok: true; readonly rows: Record<string, unknown>[]; readonly rowCount: number }
  | { readonly ok: false; readonly message: string; readonly code?: string };

/** The answer to one request. */
export type PgReply = PgResult & { readonly id: number };

/** What the worker is started with. */
export interface PgWorkerData {
  readonly port: MessagePort;
  /** Where notifications go, as they come (the main thread listens on it asynchronously). */
  readonly notifications: MessagePort;
  readonly signal: Int32Array;
  readonly connection: pg.PoolConfig;
}

const { port, notifications, signal, connection } = workerData as PgWorkerData;
// BIGINT columns hold epoch milliseconds, well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
const pool = new pg.Pool({ max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, ...connection });
// A connection dropped while idle (a database restart) is an error on the pool,
// not a crash: the next request connects again.
pool.on("error", () => undefined);
// A connection dropped while checked out (a restart) fails its next query; it must not crash
// the thread. Once per connection: a listener added at each checkout would pile up.
pool.on("connect", (client) => client.on("error", () => undefined));
let held: pg.PoolClient | undefined;
/** Channels listened on, on one connection of its own (a pooled one would be given back). */
const channels = new Set<string>();
let listener: pg.Client | undefined;
let ended = false;

/** Connects the listening client and listens on every channel; after a lost connection, again a second later. */
async function listen(): Promise<void> {
  if (ended || listener) return;
  const client = new pg.Client({ connectionTimeoutMillis: 5000, ...connection });
  listener = client;
  const retry = () => {
    if (listener !== client) return;
    listener = undefined;
    client.end().catch(() => undefined);
    if (!ended) setTimeout(() => void listen().catch(() => undefined), 1000);
  };
  client.on("error", retry);
  client.on("end", retry);
  client.on("notification", (message) =>
    notifications.postMessage({
      channel: message.channel,
      payload: message.payload ?? "",
    } satisfies PgNotification),
  );
  try {
    await client.connect();
    for (const channel of channels) await client.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
  } catch (error) {
    retry();
    throw error;
  }
}

function reply(message: PgReply): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

async function answer(request: PgRequest): Promise<PgResult> {
  switch (request.op) {
    case "begin":
      // A transaction the caller gave up on (it timed out) is not continued by the next one.
      if (held) held.release(true);
      held = await pool.connect();
      try {
        await held.query("BEGIN");
      } catch (error) {
        held.release(true);
        held = undefined;
        throw error;
      }
      return { ok: true, rows: [], rowCount: 0 };
    case "commit":
    case "rollback": {
      const client = held;
      held = undefined;
      if (!client) return { ok: true, rows: [], rowCount: 0 };
      try {
        await client.query(request.op === "commit" ? "COMMIT" : "ROLLBACK");
        client.release();
      } catch (error) {
        client.release(true);
        throw error;
      }
      return { ok: true, rows: [], rowCount: 0 };
    }
    case "listen":
      // Awaited, so notifications after this answer are heard; connecting is bounded (5 s), and
      // a failure is retried in the background (the caller polls meanwhile).
      channels.add(request.channel);
      if (listener) await listener.query(`LISTEN "${request.channel.replace(/"/g, '""')}"`);
      else await listen();
      return { ok: true, rows: [], rowCount: 0 };
    case "end":
      held?.release(true);
      held = undefined;
      ended = true;
      await listener?.end().catch(() => undefined);
      listener = undefined;
      await pool.end();
      return { ok: true, rows: [], rowCount: 0 };
    case "query": {
      const result = await (held ?? pool).query(request.sql, request.params as unknown[]);
      return { ok: true, rows: result.rows, rowCount: result.rowCount ?? 0 };
    }
  }
}

// One request at a time, in order: a request the caller stopped waiting for
// (a timeout) finishes before the next starts, so a late `begin` cannot
// capture the queries that follow it.
let queue: Promise<void> = Promise.resolve();
port.on("message", (request: PgRequest) => {
  queue = queue.then(() =>
    answer(request).then(
      (result) => reply({ ...result, id: request.id }),
      (error: Error & { code?: string }) =>
        reply({
          id: request.id,
          ok: false,
          message: error.message || String(error),
          ...(error.code ? { code: error.code } : {}),
        }),
    ),
  );
});
