/**
 * The audit log in PostgreSQL. Appends from every replica are serialized by a
 * transaction-scoped advisory lock: the head is read and the next entry
 * inserted while holding it, so two replicas never append after the same
 * head and the chain never forks. Ids are assigned here (head + 1), not by a
 * sequence, so a rolled-back append leaves no gap for verification to mistake
 * for a deleted row.
 */
import { type AuditEntry, type AuditRecord, chainEntry } from "../audit/chain.js";
import { AUDIT_COLUMNS, type AuditRow, auditFromRow, auditValues, auditWhere } from "../audit/rows.js";
import type { AuditFilter, AuditStore } from "../store.js";
import type { AsyncPostgres } from "./pool.js";

/** Serialises audit appends of every process on this database (any fixed 64-bit number, not the migrations'). */
const AUDIT_LOCK = 7_310_214_633_002;

const VALUES = AUDIT_COLUMNS.split(", ")
  .map((_, i) => `$${i + 1}`)
  .join(", ");

/** The `driftless_audit` table. */
export class PostgresAudit implements AuditStore {
  readonly #db: AsyncPostgres;

  constructor(db: AsyncPostgres) {
    this.#db = db;
  }

  async appendAudit(record: AuditRecord): Promise<AuditEntry> {
    return this.#db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK]);
      const { rows } = await tx.query<AuditRow>(
        "SELECT id, hash FROM driftless_audit ORDER BY id DESC LIMIT 1",
      );
      const entry = chainEntry(rows[0], record, new Date().toISOString());
      await tx.query(`INSERT INTO driftless_audit (${AUDIT_COLUMNS}) VALUES (${VALUES})`, auditValues(entry));
      return entry;
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
