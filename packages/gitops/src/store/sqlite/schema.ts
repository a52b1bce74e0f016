/** The SQLite store's schema: numbered migrations, applied in order, and how a run row reads back. */

import type { RunRecord } from "../../types.js";
import { type DecodedRunRow, runFromRow } from "../runRow.js";

/** Schema versions, applied in order; each runs once, inside a transaction. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE targets (
     name TEXT PRIMARY KEY,
     status TEXT NOT NULL
   );
   CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     trigger TEXT NOT NULL,
     revision TEXT,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     result TEXT,
     counts TEXT,
     drift INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     log TEXT NOT NULL DEFAULT ''
   );
   CREATE INDEX runs_by_target ON runs (target, started_at DESC);`,
  // 2: who overrode a change window and why; the steps of a plan awaiting approval.
  `ALTER TABLE runs ADD COLUMN override TEXT;
   ALTER TABLE runs ADD COLUMN plan TEXT;`,
  // 3: promotions between targets; cross-process stack leases; which process owns a run.
  `CREATE TABLE promotions (
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     source TEXT,
     revision TEXT NOT NULL,
     previous_revision TEXT,
     kind TEXT NOT NULL,
     by TEXT,
     reason TEXT,
     at TEXT NOT NULL
   );
   CREATE INDEX promotions_by_target ON promotions (target, at DESC);
   CREATE TABLE stack_locks (
     key TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     target TEXT NOT NULL,
     run_id TEXT NOT NULL,
     acquired_at TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   ALTER TABLE runs ADD COLUMN owner TEXT;`,
  // 4: who approved the plan or revision a run applies, and why.
  `ALTER TABLE runs ADD COLUMN approval TEXT;`,
  // 5: run logs, appended while a run goes; offsets in UTF-16 code units.
  `CREATE TABLE run_logs (
     run_id TEXT NOT NULL,
     start_offset INTEGER NOT NULL,
     end_offset INTEGER NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (run_id, start_offset)
   );`,
  // 6: replicas sharing the file: members, target leases with a fencing epoch, the trigger inbox.
  `CREATE TABLE members (
     id TEXT PRIMARY KEY,
     host TEXT NOT NULL,
     pid INTEGER NOT NULL,
     started_at TEXT NOT NULL,
     heartbeat_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE target_leases (
     target TEXT PRIMARY KEY,
     owner TEXT,
     epoch INTEGER NOT NULL,
     acquired_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX target_leases_by_owner ON target_leases (owner);
   CREATE TABLE triggers (
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     command TEXT NOT NULL,
     received_by TEXT NOT NULL,
     created_at TEXT NOT NULL,
     run_id TEXT,
     error TEXT,
     done_at TEXT
   );
   CREATE INDEX triggers_open ON triggers (target) WHERE done_at IS NULL;`,
  // 7: dashboard sessions logged out, until they would have expired (epoch ms).
  `CREATE TABLE session_revocations (
     id TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   );`,
  // 8: what each target's stack manages, one JSON document per target (no output values).
  `CREATE TABLE inventories (
     target TEXT PRIMARY KEY,
     inventory TEXT NOT NULL
   );`,
  // 9: per resource, the runs that changed it and how (JSON entries, the last few per resource;
  // `seq` is the rowid: never-deleted newest rows keep it growing).
  `CREATE TABLE resource_history (
     seq INTEGER PRIMARY KEY,
     target TEXT NOT NULL,
     urn TEXT NOT NULL,
     entry TEXT NOT NULL
   );
   CREATE INDEX resource_history_by_urn ON resource_history (target, urn, seq DESC);`,
  // 10: the audit log, a hash chain.
  // Ids are assigned by the append (head + 1) so a gap means a deleted row.
  `CREATE TABLE audit (
     id INTEGER PRIMARY KEY,
     time TEXT NOT NULL,
     actor_id TEXT,
     actor TEXT,
     source TEXT,
     action TEXT NOT NULL,
     target TEXT,
     outcome TEXT NOT NULL,
     status INTEGER NOT NULL,
     request_id TEXT NOT NULL,
     detail TEXT,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_by_target ON audit (target, id);
   CREATE INDEX audit_by_actor ON audit (actor, id);
   CREATE INDEX audit_by_actor_id ON audit (actor_id, id);`,
  // 11: personal API tokens,
  // their sha256 digest only; the owner's identity as JSON. And the person an
  // admin promoted or rolled back for.
  `CREATE TABLE personal_tokens (
     id TEXT PRIMARY KEY,
     label TEXT NOT NULL,
     owner_id TEXT NOT NULL,
     owner TEXT NOT NULL,
     digest TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE INDEX personal_tokens_by_owner ON personal_tokens (owner_id, created_at DESC);
   ALTER TABLE promotions ADD COLUMN on_behalf_of TEXT;`,
  // 12: review stacks of pull requests, so none is left behind across restarts.
  `CREATE TABLE review_stacks (
     target TEXT NOT NULL,
     number INTEGER NOT NULL,
     stack TEXT NOT NULL,
     branch TEXT NOT NULL,
     head_sha TEXT NOT NULL,
     state TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     last_push_at TEXT NOT NULL,
     comment_id TEXT,
     error TEXT,
     attempts INTEGER NOT NULL,
     PRIMARY KEY (target, number)
   );`,
];

/** A row of `runs`: JSON columns as text, `drift` as 0 or 1. */
export interface RunRow extends Omit<DecodedRunRow, "counts" | "drift" | "override" | "plan" | "approval"> {
  counts: string | null;
  drift: number;
  override: string | null;
  plan: string | null;
  approval: string | null;
}

/** A run as recorded. */
export function fromRow(row: RunRow): RunRecord {
  return runFromRow({
    ...row,
    counts: fromJson(row.counts),
    drift: row.drift === 1,
    override: fromJson(row.override),
    plan: fromJson(row.plan),
    approval: fromJson(row.approval),
  });
}

function fromJson<T>(text: string | null): T | null {
  return text ? (JSON.parse(text) as T) : null;
}
