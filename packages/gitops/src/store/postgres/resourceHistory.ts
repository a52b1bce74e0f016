/** The PostgreSQL store's resource history: one row per run and resource change, the last few per resource. */
import type { Fence, ResourceHistoryEntry } from "../../types.js";
import { RESOURCE_HISTORY_LIMIT, type ResourceHistoryStore } from "../store.js";
import type { Queryable } from "./pool.js";
import { fencedWrite } from "./replicas.js";

/** {@link ResourceHistoryStore} on the table `driftless_resource_history` (migration 5). */
export class PostgresResourceHistory implements ResourceHistoryStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async recordResourceChanges(
    target: string,
    entries: readonly ResourceHistoryEntry[],
    fence?: Fence,
  ): Promise<void> {
    if (entries.length === 0) return;
    // One statement: the lease check and every row go together; `seq` follows the entries' order.
    await fencedWrite(
      this.#db,
      target,
      [target, JSON.stringify(entries)],
      fence,
      (fenced) => `INSERT INTO driftless_resource_history (target, urn, entry)
       SELECT $1::text, e->>'urn', e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, n)
       ${fenced("WHERE", "$1")}
       ORDER BY n`,
    );
    // Dropping old entries needs no lease: a late prune only drops what a newer one would.
    await this.#db.query(
      `DELETE FROM driftless_resource_history h USING (
         SELECT seq, row_number() OVER (PARTITION BY urn ORDER BY seq DESC) AS n
         FROM driftless_resource_history WHERE target = $1 AND urn = ANY($2::text[])) old
       WHERE h.seq = old.seq AND old.n > $3`,
      [target, [...new Set(entries.map((e) => e.urn))], RESOURCE_HISTORY_LIMIT],
    );
  }

  async resourceHistory(
    target: string,
    urn: string,
    limit = RESOURCE_HISTORY_LIMIT,
  ): Promise<ResourceHistoryEntry[]> {
    const { rows } = await this.#db.query<{ entry: ResourceHistoryEntry }>(
      `SELECT entry FROM driftless_resource_history WHERE target = $1 AND urn = $2
       ORDER BY seq DESC LIMIT $3`,
      [target, urn, limit],
    );
    return rows.map((r) => r.entry);
  }
}
