/**
 * Verification of the audit log's hash chain: reads it page by page in id
 * order and names the first entry that does not follow from the one before.
 */
import type { AuditStore } from "../store.js";
import { type AuditEntry, auditHash, GENESIS_HASH } from "./chain.js";

/**
 * What is wrong with the first bad entry: `edited` (its hash does not match
 * its content and position, so an edited row and rows swapped into each
 * other's ids both show as this), `deleted` (a gap in ids, or a link to an
 * entry that is not the one before), `truncated` (a head kept elsewhere is gone).
 */
export type AuditProblem = "edited" | "deleted" | "truncated";

/** The first entry that breaks the chain, and why. */
export interface AuditBreak {
  /** The entry's id (for `truncated`: the newest entry left). */
  readonly id: number;
  readonly time: string;
  readonly problem: AuditProblem;
  readonly message: string;
}

/** What {@link verifyAudit} found. */
export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly head?: AuditEntry }
  | { readonly ok: false; readonly entries: number; readonly broken: AuditBreak };

/** Options of {@link verifyAudit}. */
export interface VerifyAuditOptions {
  /**
   * A head hash kept elsewhere (`driftless audit head`): the chain must still
   * contain it, or entries were removed from its end (or it was rewritten).
   * @default - the tail is not checked: removing the newest entries goes unseen
   */
  readonly head?: string;
  /** Entries read per query. @default 1000 */
  readonly pageSize?: number;
}

/** Why `entry` does not follow `prev` (the entry before it, or none for the first), else `undefined`. */
function check(prev: AuditEntry | undefined, entry: AuditEntry): AuditBreak | undefined {
  const expectedId = (prev?.id ?? 0) + 1;
  const at = { id: entry.id, time: entry.time };
  const { prevHash, hash, ...fields } = entry;
  if (auditHash(prevHash, fields) !== hash) {
    return {
      ...at,
      problem: "edited",
      message: `entry ${entry.id} was edited or moved: its hash does not match its content and position`,
    };
  }
  if (entry.id > expectedId) {
    const missing = entry.id - 1 === expectedId ? `${expectedId}` : `${expectedId} to ${entry.id - 1}`;
    return {
      ...at,
      problem: "deleted",
      message: `entries before ${entry.id} were deleted: ${missing} missing`,
    };
  }
  if (prevHash !== (prev?.hash ?? GENESIS_HASH)) {
    return {
      ...at,
      problem: "deleted",
      message: `entry ${entry.id} does not follow entry ${prev?.id ?? "(none)"}: the entry before it was deleted, replaced or moved`,
    };
  }
  return undefined;
}

/**
 * Walks the audit log in id order and checks each entry's hash against its
 * content and the hash of the entry before: an edited entry, a deleted one
 * (a gap in ids, or a broken link) and reordered entries are reported as the
 * first bad entry. Reads page by page, so a long log needs no more memory than a page.
 */
export async function verifyAudit(
  store: Pick<AuditStore, "readAudit">,
  options: VerifyAuditOptions = {},
): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? 1000;
  let prev: AuditEntry | undefined;
  let entries = 0;
  let headSeen = options.head === undefined;
  for (;;) {
    const page = await store.readAudit(prev?.id ?? 0, pageSize);
    for (const entry of page) {
      const broken = check(prev, entry);
      if (broken) return { ok: false, entries, broken };
      entries++;
      if (entry.hash === options.head) headSeen = true;
      prev = entry;
    }
    if (page.length < pageSize) break;
  }
  if (!headSeen) {
    return {
      ok: false,
      entries,
      broken: {
        id: prev?.id ?? 0,
        time: prev?.time ?? "",
        problem: "truncated",
        message: `the head ${options.head} is not in the log: entries after ${prev ? `entry ${prev.id}` : "the start"} were removed, or the log was rewritten`,
      },
    };
  }
  return { ok: true, entries, ...(prev ? { head: prev } : {}) };
}
