/** The SQLite store's resource history: one row per run and resource change, the last few per resource. */
import type Database from "better-sqlite3";
import { FencedError } from "../../errors.js";
import type { Fence, ResourceHistoryEntry } from "../../types.js";
import { RESOURCE_HISTORY_LIMIT, type ResourceHistoryStore } from "../store.js";
import { fenceSql } from "./replicas.js";

/** {@link ResourceHistoryStore} on the table `resource_history` (migration 9). */
export class SqliteResourceHistory implements ResourceHistoryStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async recordResourceChanges(
    target: string,
    entries: readonly ResourceHistoryEntry[],
    fence?: Fence,
  ): Promise<void> {
    if (entries.length === 0) return;
    const insert = this.#db.prepare("INSERT INTO resource_history (target, urn, entry) VALUES (?, ?, ?)");
    const prune = this.#db.prepare(
      `DELETE FROM resource_history WHERE target = ? AND urn = ? AND seq <= (
         SELECT seq FROM resource_history WHERE target = ? AND urn = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    );
    // Immediate: the lease is checked under the write lock, so the check and the writes are one.
    this.#db
      .transaction(() => {
        if (fence) {
          const held = this.#db
            .prepare(`SELECT ${fenceSql("?")} AS held`)
            .get(target, fence.owner, fence.epoch) as { held: number };
          if (!held.held) throw new FencedError(target, fence.owner, fence.epoch);
        }
        for (const entry of entries) insert.run(target, entry.urn, JSON.stringify(entry));
        for (const urn of new Set(entries.map((e) => e.urn)))
          prune.run(target, urn, target, urn, RESOURCE_HISTORY_LIMIT);
      })
      .immediate();
  }

  async resourceHistory(
    target: string,
    urn: string,
    limit = RESOURCE_HISTORY_LIMIT,
  ): Promise<ResourceHistoryEntry[]> {
    const rows = this.#db
      .prepare("SELECT entry FROM resource_history WHERE target = ? AND urn = ? ORDER BY seq DESC LIMIT ?")
      .all(target, urn, limit) as { entry: string }[];
    return rows.map((r) => JSON.parse(r.entry) as ResourceHistoryEntry);
  }
}
