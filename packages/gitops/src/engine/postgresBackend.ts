/**
 * Pulumi's `postgres://` DIY backend: its state table holds every file the
 * backend writes as a row (`{"data": "<base64>"}` under the file's key).
 * Stale stack locks: the backend keeps its lock as a row (key
 * `….pulumi/locks/…/<project>/<stack>/<id>.json`), so an engine killed during
 * `up` leaves a row, not a file, for the recover step to clear. The stack's
 * checkpoint is a row too, read without the CLI.
 */
import { hostname } from "node:os";
import { gunzipSync } from "node:zlib";
import type { Deployment } from "./fileBackend.js";
import { isAlive } from "./process.js";

/** Whether a backend URL is Pulumi's PostgreSQL DIY backend. */
export function isPostgresBackend(backend: string): boolean {
  return /^postgres(ql)?:\/\//i.test(backend);
}

/**
 * Deletes the lock rows of `project`/`stack` written on this host by a
 * process that no longer runs; a lock of another host or a live process is
 * left alone. The password comes from `PGPASSWORD` in `env`, as the engine gets it.
 * @returns what it did, one line per lock removed
 */
export async function clearStalePostgresLocks(
  backend: string,
  env: Readonly<Record<string, string>>,
  project: string,
  stack: string,
): Promise<string[]> {
  return withStateTable(backend, env, [], async (client, table) => {
    // Each object is stored as {"data": "<base64 of the file>"}.
    const { rows } = await client.query<{ key: string; blob: string | null }>(
      `SELECT key, data->>'data' AS blob FROM ${table} WHERE key LIKE '%.pulumi/locks/%' AND key LIKE '%.json'`,
    );
    const actions: string[] = [];
    for (const { key, blob } of rows) {
      const [lockStack, lockProject] = key.split("/").slice(-3, -1).reverse();
      if (lockProject !== project || lockStack !== stack || !blob) continue;
      const data = JSON.parse(Buffer.from(blob, "base64").toString("utf8")) as {
        pid?: number;
        hostname?: string;
      };
      if (data.hostname === hostname() && typeof data.pid === "number" && !isAlive(data.pid)) {
        await client.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
        actions.push(`removed a stale lock on ${project}/${stack} left by process ${data.pid}`);
      }
    }
    return actions;
  });
}

/**
 * The stack's current deployment read straight from the backend's state
 * table (the row `….pulumi/stacks/<project>/<stack>.json`, gzipped or not),
 * as `pulumi stack export` would return it, without starting the CLI: one
 * query on a connection of its own. `undefined` when it cannot be read (no
 * such row, more than one, a server away), so the caller asks the CLI.
 */
export async function readPostgresCheckpoint(
  backend: string,
  env: Readonly<Record<string, string>>,
  project: string,
  stack: string,
): Promise<Deployment | undefined> {
  try {
    return await withStateTable(backend, env, undefined, async (client, table) => {
      const suffixes = [
        `.pulumi/stacks/${project}/${stack}.json`,
        `.pulumi/stacks/${project}/${stack}.json.gz`,
      ];
      const { rows } = await client.query<{ key: string; blob: string | null }>(
        `SELECT key, data->>'data' AS blob FROM ${table} WHERE right(key, length($1)) = $1 OR right(key, length($2)) = $2`,
        suffixes,
      );
      const row = rows.length === 1 ? rows[0] : undefined;
      if (!row?.blob) return undefined;
      const bytes = Buffer.from(row.blob, "base64");
      const text = (row.key.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
      const checkpoint = (JSON.parse(text) as { checkpoint?: { latest?: Deployment } }).checkpoint;
      return checkpoint ? (checkpoint.latest ?? {}) : undefined;
    });
  } catch {
    return undefined;
  }
}

/**
 * Runs `use` on a client connected to the backend's database, with the name
 * of its state table; `absent` when the table does not exist (or its name is
 * not a plain identifier). The password comes from `PGPASSWORD` in `env`.
 */
async function withStateTable<T>(
  backend: string,
  env: Readonly<Record<string, string>>,
  absent: T,
  use: (client: import("pg").Client, table: string) => Promise<T>,
): Promise<T> {
  const url = new URL(backend);
  // The backend's own option: a state table other than pulumi_state.
  const table = url.searchParams.get("table") ?? "pulumi_state";
  url.searchParams.delete("table");
  if (!/^\w+$/.test(table)) return absent;
  if (env.PGPASSWORD && !url.password) url.password = encodeURIComponent(env.PGPASSWORD);
  // Loaded here, not with the module: a process that never reads such a stack never loads node-postgres
  // on its main thread (the PostgreSQL store runs its pool on a worker thread).
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 5000 });
  // A server that drops the connection must not throw from the client's event emitter.
  client.on("error", () => undefined);
  await client.connect();
  try {
    const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
    if (!exists.rows[0]?.present) return absent;
    return await use(client, table);
  } finally {
    await client.end();
  }
}
