/**
 * `store/audit/` owns the audit log's format: this file says what one entry
 * records, its canonical form, and the hash that links it to the entry
 * before; `verify.ts` walks the chain, `rows.ts` and `base.ts` are what the
 * two backends (`../sqlite/audit.ts`, `../postgres/audit.ts`) share. It
 * imports only the store's interfaces.
 */
import { createHash } from "node:crypto";

/** How an audited attempt ended: done (2xx), refused (401, 403, other 4xx), or failed (5xx). */
export type AuditOutcome = "ok" | "refused" | "failed";

/** What a caller appends: one attempt, allowed or not. */
export interface AuditRecord {
  /** The identity's stable id (`Identity.id`); absent when the caller was not authenticated. */
  readonly actorId?: string;
  /** The identity's name as records show it; absent when the caller was not authenticated. */
  readonly actor?: string;
  /** The caller's network address, as the server saw it. */
  readonly source?: string;
  /** What was attempted: an action name (`approve`, `reconcile`, `login`, …). */
  readonly action: string;
  /** The target acted on, when the action has one. */
  readonly target?: string;
  readonly outcome: AuditOutcome;
  /** The HTTP status code the attempt was answered with. */
  readonly status: number;
  /** The request's id (`x-request-id`), to find it in the server's logs. */
  readonly requestId: string;
  /** A short note (why it was refused, what failed); already masked, never a secret. */
  readonly detail?: string;
}

/** An entry as stored: the record, its place and time, and the chain. */
export interface AuditEntry extends AuditRecord {
  /** Position in the log: 1, 2, 3, … without gaps. */
  readonly id: number;
  /** When it was appended (ISO 8601). */
  readonly time: string;
  /** The hash of the entry before ({@link GENESIS_HASH} for the first). */
  readonly prevHash: string;
  /** `sha256(prevHash || canonical JSON of the entry)`, hex. */
  readonly hash: string;
}

/** The `prevHash` of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The longest `detail` stored; longer notes are cut (a log line, not a document). */
export const MAX_DETAIL = 500;

/**
 * The entry's fields in one fixed order, absent ones as `null`, as JSON: the
 * bytes the hash covers. Adding a field later needs a new version of this
 * form, or old entries would no longer verify.
 */
export function canonicalJson(entry: Omit<AuditEntry, "prevHash" | "hash">): string {
  return JSON.stringify([
    entry.id,
    entry.time,
    entry.actorId ?? null,
    entry.actor ?? null,
    entry.source ?? null,
    entry.action,
    entry.target ?? null,
    entry.outcome,
    entry.status,
    entry.requestId,
    entry.detail ?? null,
  ]);
}

/** The hash of an entry that follows the one hashed `prevHash`. */
export function auditHash(prevHash: string, entry: Omit<AuditEntry, "prevHash" | "hash">): string {
  return createHash("sha256").update(prevHash).update(canonicalJson(entry)).digest("hex");
}

/** The entry that follows `head` (or the first, without one): numbered, timed and hashed. */
export function chainEntry(
  head: Pick<AuditEntry, "id" | "hash"> | undefined,
  record: AuditRecord,
  time: string,
): AuditEntry {
  const detail = record.detail === undefined ? undefined : record.detail.slice(0, MAX_DETAIL);
  const fields = {
    ...record,
    ...(detail !== undefined ? { detail } : {}),
    id: (head?.id ?? 0) + 1,
    time,
  };
  const prevHash = head?.hash ?? GENESIS_HASH;
  return { ...fields, prevHash, hash: auditHash(prevHash, fields) };
}

/** The outcome a status code means. */
export function outcomeOf(status: number): AuditOutcome {
  if (status >= 500) return "failed";
  if (status >= 400) return "refused";
  return "ok";
}
