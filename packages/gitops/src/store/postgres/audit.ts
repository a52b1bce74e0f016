/**
 * The audit log in PostgreSQL. Appends from every replica are serialized by a
 * transaction-scoped advisory lock: the head is read and the next entries
 * inserted while holding it, so two replicas never append after the same
 * head and the chain never forks. Ids are assigned here (head + 1), not by a
 * sequence, so a rolled-back append leaves no gap for verification to mistake
 * for a deleted row. Within a process, appends queue in memory and go in
 * batches, one transaction at a time: a burst of requests takes one pool
 * connection, not one each waiting on the lock.
 */
import { type AuditEntry, type AuditRecord, chainEntry } from "../audit/chain.js";
import { AUDIT_COLUMNS, type AuditRow, auditFromRow, auditValues, auditWhere } from "../audit/rows.js";
import type { AuditFilter, AuditStore } from "../store.js";
import type { AsyncPostgres } from "./pool.js";

/** Serialises audit appends of every process on this database (any fixed 64-bit number, not the migrations'). */
const AUDIT_LOCK = 7_310_214_633_002;

/** The most entries one transaction appends (13 parameters each, far below PostgreSQL's 65535). */
const MAX_BATCH = 200;

const COLUMNS = AUDIT_COLUMNS.split(", ").length;

/** `($1, …, $13), ($14, …)` for `rows` entries. */
const placeholders = (rows: number) =>
  Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`).join(", ")})`,
  ).join(", ");

interface Pending {
  readonly record: AuditRecord;
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (error: unknown) => void;
}

/** The `driftless_audit` table. */
export class PostgresAudit implements AuditStore {
  readonly #db: AsyncPostgres;
  readonly #queue: Pending[] = [];
  #flushing = false;

  constructor(db: AsyncPostgres) {
    this.#db = db;
  }

  appendAudit(record: AuditRecord): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      void this.#flush();
    });
  }

  /** Appends what is queued, batch by batch, until the queue is empty; one flush runs at a time. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const entries = await this.#append(batch.map((p) => p.record));
          for (const [i, p] of batch.entries()) p.resolve(entries[i] as AuditEntry);
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #append(records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    return this.#db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK]);
      const { rows } = await tx.query<AuditRow>(
        "SELECT id, hash FROM driftless_audit ORDER BY id DESC LIMIT 1",
      );
      const time = new Date().toISOString();
      const entries: AuditEntry[] = [];
      for (const record of records) entries.push(chainEntry(entries.at(-1) ?? rows[0], record, time));
      await tx.query(
        `INSERT INTO driftless_audit (${AUDIT_COLUMNS}) VALUES ${placeholders(entries.length)}`,
        entries.flatMap(auditValues),
      );
      return entries;
    });
  }

  async listAudit(filter: AuditFilter & { readonly limit?: number } = {}): Promise<AuditEntry[]> {
    const where = auditWhere(filter, (i) => `$${i}`);
    const { rows } = await this.#db.query<AuditRow>(
      `SELECT * FROM driftless_audit WHERE ${where.sql} ORDER BY id DESC LIMIT $${where.params.length + 1}`,
      [...where.params, filter.limit ?? 100],
    );
    return rows.map(auditFromRow);
  }

  async readAudit(afterId: number, limit: number, filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const where = auditWhere(filter, (i) => `$${i + 1}`);
    const { rows } = await this.#db.query<AuditRow>(
      `SELECT * FROM driftless_audit WHERE id > $1 AND ${where.sql} ORDER BY id LIMIT $${where.params.length + 2}`,
      [afterId, ...where.params, limit],
    );
    return rows.map(auditFromRow);
  }

  async auditHead(): Promise<AuditEntry | undefined> {
    const { rows } = await this.#db.query<AuditRow>("SELECT * FROM driftless_audit ORDER BY id DESC LIMIT 1");
    return rows[0] ? auditFromRow(rows[0]) : undefined;
  }
}
