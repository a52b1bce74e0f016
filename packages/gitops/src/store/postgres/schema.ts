/**
 * The PostgreSQL store's schema: numbered migrations, the database clock
 * every replica's leases use, and how run and stack lock rows read back.
 */
import type { StackLease } from "../../types.js";
import type { DecodedRunRow } from "../runRow.js";
import type { Row } from "./pool.js";

/** The database's clock in epoch milliseconds: one clock for every replica's leases. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** Schema versions, applied in order; each runs once, inside a transaction. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE driftless_targets (
     name TEXT PRIMARY KEY,
     status JSONB NOT NULL
   );
   CREATE TABLE driftless_runs (
     seq BIGSERIAL UNIQUE,
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     trigger TEXT NOT NULL,
     revision TEXT,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     result TEXT,
     counts JSONB,
     drift BOOLEAN NOT NULL DEFAULT false,
     error TEXT,
     log TEXT NOT NULL DEFAULT '',
     override JSONB,
     plan JSONB,
     owner TEXT,
     approval JSONB
   );
   CREATE INDEX driftless_runs_by_target ON driftless_runs (target, started_at DESC, seq DESC);
   CREATE INDEX driftless_runs_unfinished ON driftless_runs (target) WHERE finished_at IS NULL;
   CREATE TABLE driftless_promotions (
     seq BIGSERIAL UNIQUE,
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
   CREATE INDEX driftless_promotions_by_target ON driftless_promotions (target, at DESC, seq DESC);
   CREATE TABLE driftless_run_logs (
     run_id TEXT NOT NULL,
     start_offset INTEGER NOT NULL,
     end_offset INTEGER NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (run_id, start_offset)
   );
   CREATE TABLE driftless_stack_locks (
     key TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     target TEXT NOT NULL,
     run_id TEXT NOT NULL,
     acquired_at TEXT NOT NULL,
     expires_at BIGINT NOT NULL
   );`,
  // 2: replicas: members and their heartbeats, target leases with a fencing
  // epoch, and the inbox of commands any replica received for a target.
  `CREATE TABLE driftless_members (
     id TEXT PRIMARY KEY,
     host TEXT NOT NULL,
     pid INTEGER NOT NULL,
     started_at TEXT NOT NULL,
     heartbeat_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE TABLE driftless_target_leases (
     target TEXT PRIMARY KEY,
     owner TEXT,
     epoch BIGINT NOT NULL,
     acquired_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX driftless_target_leases_by_owner ON driftless_target_leases (owner);
   CREATE TABLE driftless_triggers (
     seq BIGSERIAL UNIQUE,
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     command JSONB NOT NULL,
     received_by TEXT NOT NULL,
     created_at TEXT NOT NULL,
     run_id TEXT,
     error TEXT,
     done_at TEXT
   );
   CREATE INDEX driftless_triggers_open ON driftless_triggers (target, seq) WHERE done_at IS NULL;`,
  // 3: dashboard sessions logged out, until they would have expired (epoch ms
  // on the clock that signed the cookie).
  `CREATE TABLE driftless_session_revocations (
     id TEXT PRIMARY KEY,
     expires_at BIGINT NOT NULL
   );`,
  // 4: what each target's stack manages, one document per target (no output
  // values), JSON rather than JSONB: written and read whole, never queried inside.
  `CREATE TABLE driftless_inventories (
     target TEXT PRIMARY KEY,
     inventory JSON NOT NULL
   );`,
  // 5: per resource, the runs that changed it and how (the last few per resource).
  `CREATE TABLE driftless_resource_history (
     seq BIGSERIAL PRIMARY KEY,
     target TEXT NOT NULL,
     urn TEXT NOT NULL,
     entry JSONB NOT NULL
   );
   CREATE INDEX driftless_resource_history_by_urn ON driftless_resource_history (target, urn, seq DESC);`,
  // 6: the audit log, a hash chain.
  // Ids are assigned by the append (head + 1) so a gap means a deleted row.
  `CREATE TABLE driftless_audit (
     id BIGINT PRIMARY KEY,
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
   CREATE INDEX driftless_audit_by_target ON driftless_audit (target, id);
   CREATE INDEX driftless_audit_by_actor ON driftless_audit (actor, id);
   CREATE INDEX driftless_audit_by_actor_id ON driftless_audit (actor_id, id);`,
  // 7: personal API tokens,
  // their sha256 digest only; the owner's identity as JSON. And the person an
  // admin promoted or rolled back for.
  `CREATE TABLE driftless_personal_tokens (
     id TEXT PRIMARY KEY,
     label TEXT NOT NULL,
     owner_id TEXT NOT NULL,
     owner JSONB NOT NULL,
     digest TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE INDEX driftless_personal_tokens_by_owner ON driftless_personal_tokens (owner_id, created_at DESC);
   ALTER TABLE driftless_promotions ADD COLUMN on_behalf_of TEXT;`,
  // 8: review stacks of pull requests, so none is left behind across restarts.
  `CREATE TABLE driftless_review_stacks (
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

/** A row of `driftless_runs`: `pg` decodes its JSONB and boolean columns. */
export interface RunRow extends Row, DecodedRunRow {}

/** A row of `driftless_stack_locks`. */
export interface StackLockRow extends Row {
  key: string;
  owner: string;
  target: string;
  run_id: string;
  acquired_at: string;
  expires_at: number;
}

/** A stack lease as recorded. */
export function leaseFromRow(row: StackLockRow): StackLease {
  return {
    key: row.key,
    owner: row.owner,
    target: row.target,
    runId: row.run_id,
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
  };
}
