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
  | { readonly op: "begin" | "commit" | "rollback" | "end" };

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
  readonly signal: Int32Array;
  readonly connection: pg.PoolConfig;
}

const { port, signal, connection } = workerData as PgWorkerData;
// BIGINT columns hold epoch milliseconds, well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
const pool = new pg.Pool({ max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, ...connection });
// A connection dropped while idle (a database restart) is an error on the pool,
// not a crash: the next request connects again.
pool.on("error", () => undefined);
let held: pg.PoolClient | undefined;

function reply(message: PgReply): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

async function answer(request: PgRequest): Promise<PgResult> {
  switch (request.op) {
    case "begin":
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
    case "end":
      held?.release(true);
      held = undefined;
      await pool.end();
      return { ok: true, rows: [], rowCount: 0 };
    case "query": {
      const result = await (held ?? pool).query(request.sql, request.params as unknown[]);
      return { ok: true, rows: result.rows, rowCount: result.rowCount ?? 0 };
    }
  }
}

port.on("message", (request: PgRequest) => {
  answer(request).then(
    (result) => reply({ ...result, id: request.id }),
    (error: Error & { code?: string }) =>
      reply({
        id: request.id,
        ok: false,
        message: error.message || String(error),
        ...(error.code ? { code: error.code } : {}),
      }),
  );
});
