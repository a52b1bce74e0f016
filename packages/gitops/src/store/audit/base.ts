/**
 * The audit half of a {@link Store}, forwarded to the store's audit table
 * (`sqlite/audit.ts`, `postgres/audit.ts`) as {@link ReplicaStoreBase} does
 * for the replica tables.
 */

import { HistoryStoreBase } from "../resourceHistoryBase.js";
import type { AuditFilter, AuditStore } from "../store.js";
import type { AuditEntry, AuditRecord } from "./chain.js";

/** Forwards the audit methods of a {@link Store} to its audit table. */
export abstract class AuditStoreBase extends HistoryStoreBase implements AuditStore {
  /** The store's audit table, on the store's own database connection. */
  protected abstract readonly auditLog: AuditStore;

  async appendAudit(record: AuditRecord): Promise<AuditEntry> {
    return this.auditLog.appendAudit(record);
  }

  async listAudit(filter?: AuditFilter & { readonly limit?: number }): Promise<AuditEntry[]> {
    return this.auditLog.listAudit(filter);
  }

  async readAudit(afterId: number, limit: number, filter?: AuditFilter): Promise<AuditEntry[]> {
    return this.auditLog.readAudit(afterId, limit, filter);
  }

  async auditHead(): Promise<AuditEntry | undefined> {
    return this.auditLog.auditHead();
  }
}
