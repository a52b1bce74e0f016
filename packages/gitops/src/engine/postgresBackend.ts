/**
 * Stale stack locks of Pulumi's `postgres://` DIY backend. The backend keeps
 * its lock as a row of its state table (key `….pulumi/locks/…/<project>/<stack>/<id>.json`),
 * so an engine killed during `up` leaves a row, not a file, for the recover
 * step to clear.
 */
import { hostname } from "node:os";
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
  const url = new URL(backend);
  // The backend's own option: a state table other than pulumi_state.
  const table = url.searchParams.get("table") ?? "pulumi_state";
  url.searchParams.delete("table");
  if (!/^\w+$/.test(table)) return [];
  if (env.PGPASSWORD && !url.password) url.password = encodeURIComponent(env.PGPASSWORD);
  // Loaded here, not with the module: a process that never recovers such a stack never loads node-postgres
  // on its main thread (the PostgreSQL store runs its pool on a worker thread).
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
    if (!exists.rows[0]?.present) return [];
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
  } finally {
    await client.end();
  }
}
