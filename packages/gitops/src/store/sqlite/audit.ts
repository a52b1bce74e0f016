/**
 * The audit log in the SQLite file. An append reads the head and inserts the
 * next entry under SQLite's write lock (BEGIN IMMEDIATE), so processes sharing
 * the file never append two entries after the same head.
 */
import type Database from "better-sqlite3";
import { type AuditEntry, type AuditRecord, chainEntry } from "../audit/chain.js";
import { AUDIT_COLUMNS, type AuditRow, auditFromRow, auditValues, auditWhere } from "../audit/rows.js";
import type { AuditFilter, AuditStore } from "../store.js";

const placeholder = () => "?";

/** The `audit` table of one SQLite file. */
export class SqliteAudit implements AuditStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async appendAudit(record: AuditRecord): Promise<AuditEntry> {
    return this.#db
      .transaction(() => {
        const head = this.#db.prepare("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").get() as
          | Pick<AuditRow, "id" | "hash">
          | undefined;
        const entry = chainEntry(head, record, new Date().toISOString());
        this.#db
          .prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (${AUDIT_COLUMNS.replace(/\w+/g, "?")})`)
          .run(...auditValues(entry));
        return entry;
      })
      .immediate();
  }

  async listAudit(filter: AuditFilter & { readonly limit?: number } = {}): Promise<AuditEntry[]> {
    const where = auditWhere(filter, placeholder);
    const rows = this.#db
      .prepare(`SELECT * FROM audit WHERE ${where.sql} ORDER BY id DESC LIMIT ?`)
      .all(...where.params, filter.limit ?? 100) as AuditRow[];
    return rows.map(auditFromRow);
  }

  async readAudit(afterId: number, limit: number, filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const where = auditWhere(filter, placeholder);
    const rows = this.#db
      .prepare(`SELECT * FROM audit WHERE id > ? AND ${where.sql} ORDER BY id LIMIT ?`)
      .all(afterId, ...where.params, limit) as AuditRow[];
    return rows.map(auditFromRow);
  }

  async auditHead(): Promise<AuditEntry | undefined> {
    const row = this.#db.prepare("SELECT * FROM audit ORDER BY id DESC LIMIT 1").get() as
      | AuditRow
      | undefined;
    return row ? auditFromRow(row) : undefined;
  }
}
