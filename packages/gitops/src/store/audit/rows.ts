/**
 * The audit table's row as both stores hold it (same columns in SQLite and
 * PostgreSQL), how it reads back, and the `WHERE` clause of a filter.
 */

import type { AuditFilter } from "../store.js";
import type { AuditEntry, AuditOutcome } from "./chain.js";

/** A row of the audit table. */
export interface AuditRow {
  [column: string]: unknown;
  id: number;
  time: string;
  actor_id: string | null;
  actor: string | null;
  source: string | null;
  action: string;
  target: string | null;
  outcome: string;
  status: number;
  request_id: string;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

/** The columns in insert order, and an entry's values in that order. */
export const AUDIT_COLUMNS =
  "id, time, actor_id, actor, source, action, target, outcome, status, request_id, detail, prev_hash, hash";

export function auditValues(e: AuditEntry): unknown[] {
  return [
    e.id,
    e.time,
    e.actorId ?? null,
    e.actor ?? null,
    e.source ?? null,
    e.action,
    e.target ?? null,
    e.outcome,
    e.status,
    e.requestId,
    e.detail ?? null,
    e.prevHash,
    e.hash,
  ];
}

/** An entry as stored (a row edited by hand reads back as it is, for verification to judge). */
export function auditFromRow(r: AuditRow): AuditEntry {
  return {
    id: Number(r.id),
    time: r.time,
    ...(r.actor_id !== null ? { actorId: r.actor_id } : {}),
    ...(r.actor !== null ? { actor: r.actor } : {}),
    ...(r.source !== null ? { source: r.source } : {}),
    action: r.action,
    ...(r.target !== null ? { target: r.target } : {}),
    outcome: r.outcome as AuditOutcome,
    status: Number(r.status),
    requestId: r.request_id,
    ...(r.detail !== null ? { detail: r.detail } : {}),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The conditions of a filter (joined with `AND`, `true` without any) and
 * their parameters; `param` names the next placeholder (`?` or `$n`).
 */
export function auditWhere(
  filter: AuditFilter,
  param: (index: number) => string,
): { readonly sql: string; readonly params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (value: unknown) => {
    params.push(value);
    return param(params.length);
  };
  if (filter.target !== undefined) conditions.push(`target = ${add(filter.target)}`);
  if (filter.actor !== undefined) {
    conditions.push(`(actor = ${add(filter.actor)} OR actor_id = ${add(filter.actor)})`);
  }
  if (filter.since !== undefined) conditions.push(`time >= ${add(filter.since)}`);
  return { sql: conditions.length ? conditions.join(" AND ") : "true", params };
}
