/**
 * Replica coordination in PostgreSQL: members and heartbeats, target leases
 * with a fencing epoch, and the trigger inbox. Every expiry is reckoned on
 * the database's clock, so replicas' clocks need not agree.
 */
import { FencedError } from "../../errors.js";
import type { Fence, Member, MemberInfo, StoredTrigger, TargetLease, TriggerCommand } from "../../types.js";
import { runFromRow } from "../runRow.js";
import type { Acquired, MembershipStore, OwnershipStore, TriggerInbox } from "../store.js";
import type { AsyncPostgres, Queryable, Row } from "./pool.js";
import { NOW_MS, type RunRow } from "./schema.js";

/**
 * The condition a fenced write adds: the writer holds the target's lease at
 * its epoch. `FOR SHARE` makes a concurrent takeover wait for the write.
 * @param target - the SQL expression naming the target
 * @param owner - the placeholder of the owner id, e.g. `$3`
 * @param epoch - the placeholder of the epoch
 */
export function fenceSql(target: string, owner: string, epoch: string): string {
  return `EXISTS (SELECT 1 FROM driftless_target_leases
    WHERE target = ${target} AND owner = ${owner} AND epoch = ${epoch} FOR SHARE)`;
}

/**
 * One write a fence may guard, as one statement: `sql` places the fence's
 * condition where it belongs with `fenced(prefix, target)` — `prefix` and
 * {@link fenceSql} on the two parameters after `params`, or nothing without a
 * fence.
 * @throws FencedError when a fenced write changed no row: the lease moved on
 */
export async function fencedWrite(
  db: Queryable,
  target: string,
  params: readonly unknown[],
  fence: Fence | undefined,
  sql: (fenced: (prefix: string, targetSql: string) => string) => string,
): Promise<void> {
  const fenced = (prefix: string, targetSql: string) =>
    fence ? `${prefix} ${fenceSql(targetSql, `$${params.length + 1}`, `$${params.length + 2}`)}` : "";
  const { rowCount } = await db.query(sql(fenced), fence ? [...params, fence.owner, fence.epoch] : params);
  if (fence && rowCount === 0) throw new FencedError(target, fence.owner, fence.epoch);
}

interface MemberRow extends Row {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: number;
  expires_at: number;
}

interface LeaseRow extends Row {
  target: string;
  owner: string | null;
  epoch: number;
  expires_at: number;
}

interface TriggerRow extends Row {
  id: string;
  target: string;
  command: TriggerCommand;
  received_by: string;
  created_at: string;
  run_id: string | null;
  error: string | null;
  done_at: string | null;
}

const member = (r: MemberRow): Member => ({
  id: r.id,
  host: r.host,
  pid: r.pid,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
  expiresAt: r.expires_at,
});

const lease = (r: LeaseRow): TargetLease => ({
  target: r.target,
  owner: r.owner ?? "",
  epoch: r.epoch,
  expiresAt: r.expires_at,
});

const trigger = (r: TriggerRow): StoredTrigger => ({
  id: r.id,
  target: r.target,
  command: r.command,
  receivedBy: r.received_by,
  createdAt: r.created_at,
  ...(r.run_id ? { runId: r.run_id } : {}),
  ...(r.error ? { error: r.error } : {}),
  ...(r.done_at ? { doneAt: r.done_at } : {}),
});

/** The channel a stored command is announced on, its payload the target. */
const TRIGGER_CHANNEL = "driftless_triggers";

const INTERRUPTED_ERROR = "the replica running it stopped; the next owner recovers the stack";

/** Membership, ownership and the trigger inbox on one PostgreSQL connection pool. */
export class PostgresReplicas implements MembershipStore, OwnershipStore, TriggerInbox {
  readonly #db: AsyncPostgres;

  constructor(db: AsyncPostgres) {
    this.#db = db;
  }

  async heartbeat(info: MemberInfo, ttlMs: number): Promise<{ members: Member[]; leases: TargetLease[] }> {
    return this.#db.transaction(async (tx) => {
      // A lapsed member's row locked by its own transaction (it stopped in the middle of one) is left
      // for a later heartbeat: waiting for it would hold this replica's renewal.
      await tx.query(
        `DELETE FROM driftless_members WHERE id IN (
           SELECT id FROM driftless_members WHERE expires_at <= ${NOW_MS} FOR UPDATE SKIP LOCKED)`,
      );
      await tx.query(
        `INSERT INTO driftless_members (id, host, pid, started_at, heartbeat_at, expires_at)
         VALUES ($1, $2, $3, $4, ${NOW_MS}, ${NOW_MS} + $5)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
        [info.id, info.host, info.pid, info.startedAt, ttlMs],
      );
      const leases = (
        await tx.query<LeaseRow>(
          `UPDATE driftless_target_leases SET expires_at = ${NOW_MS} + $2 WHERE owner = $1
         RETURNING target, owner, epoch, expires_at`,
          [info.id, ttlMs],
        )
      ).rows;
      const members = (await tx.query<MemberRow>("SELECT * FROM driftless_members ORDER BY id")).rows;
      return {
        members: members.map(member),
        // By code point, as SQLite's `ORDER BY target` does: not localeCompare, whose ICU collation
        // costs each heartbeat a collator and the process the collation tables' memory.
        leases: leases.map(lease).sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)),
      };
    });
  }

  async leave(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query("DELETE FROM driftless_members WHERE id = $1", [id]);
      await tx.query("UPDATE driftless_target_leases SET owner = NULL, expires_at = 0 WHERE owner = $1", [
        id,
      ]);
    });
  }

  async listMembers(): Promise<Member[]> {
    return (
      await this.#db.query<MemberRow>(
        `SELECT * FROM driftless_members WHERE expires_at > ${NOW_MS} ORDER BY id`,
      )
    ).rows.map(member);
  }

  async acquireTarget(target: string, owner: string, ttlMs: number): Promise<Acquired> {
    return this.#db.transaction(async (tx): Promise<Acquired> => {
      // The row exists before it is locked, so two replicas taking a new target serialise on it.
      await tx.query(
        `INSERT INTO driftless_target_leases (target, owner, epoch, acquired_at, expires_at)
         VALUES ($1, NULL, 0, 0, 0) ON CONFLICT (target) DO NOTHING`,
        [target],
      );
      // A lease row locked by another transaction is being renewed, taken or written under by its
      // holder (or one that stopped in the middle): not free now, and not worth waiting for.
      const held = (
        await tx.query<LeaseRow & { live: boolean }>(
          `SELECT *, expires_at > ${NOW_MS} AS live FROM driftless_target_leases WHERE target = $1
           FOR UPDATE SKIP LOCKED`,
          [target],
        )
      ).rows[0] as (LeaseRow & { live: boolean }) | undefined;
      if (!held) {
        const busy = (
          await tx.query<LeaseRow>("SELECT * FROM driftless_target_leases WHERE target = $1", [target])
        ).rows[0] as LeaseRow;
        return { taken: false, holder: lease(busy) };
      }
      if (held.owner === owner) {
        const renewed = (
          await tx.query<LeaseRow>(
            `UPDATE driftless_target_leases SET expires_at = ${NOW_MS} + $2 WHERE target = $1 RETURNING *`,
            [target, ttlMs],
          )
        ).rows[0] as LeaseRow;
        return { taken: true, lease: lease(renewed), interrupted: [] };
      }
      if (held.owner !== null && held.live) return { taken: false, holder: lease(held) };
      const taken = (
        await tx.query<LeaseRow>(
          `UPDATE driftless_target_leases SET owner = $2, epoch = epoch + 1, acquired_at = ${NOW_MS},
           expires_at = ${NOW_MS} + $3 WHERE target = $1 RETURNING *`,
          [target, owner, ttlMs],
        )
      ).rows[0] as LeaseRow;
      const interrupted = (
        await tx.query<RunRow>(
          `UPDATE driftless_runs SET finished_at = $3, result = 'interrupted', error = $4
         WHERE target = $1 AND finished_at IS NULL AND (owner IS NULL OR owner <> $2) RETURNING *`,
          [target, owner, new Date().toISOString(), INTERRUPTED_ERROR],
        )
      ).rows;
      return {
        taken: true,
        lease: lease(taken),
        ...(held.owner !== null ? { tookOverFrom: held.owner } : {}),
        interrupted: interrupted.map(runFromRow),
      };
    });
  }

  async releaseTarget(target: string, fence: Fence): Promise<void> {
    await this.#db.query(
      "UPDATE driftless_target_leases SET owner = NULL, expires_at = 0 WHERE target = $1 AND owner = $2 AND epoch = $3",
      [target, fence.owner, fence.epoch],
    );
  }

  async listTargetLeases(targets?: readonly string[]): Promise<TargetLease[]> {
    return (
      await this.#db.query<LeaseRow>(
        `SELECT * FROM driftless_target_leases
         WHERE owner IS NOT NULL AND ($1::text[] IS NULL OR target = ANY($1::text[])) ORDER BY target`,
        [targets ?? null],
      )
    ).rows.map(lease);
  }

  async addTrigger(request: {
    readonly id: string;
    readonly target: string;
    readonly command: TriggerCommand;
    readonly receivedBy: string;
  }): Promise<StoredTrigger> {
    // The owner's replica listens on the channel: it hears of the command at commit.
    const row = (
      await this.#db.query<TriggerRow>(
        `WITH stored AS (
         INSERT INTO driftless_triggers (id, target, command, received_by, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING *
       )
       SELECT stored.*, pg_notify('${TRIGGER_CHANNEL}', stored.target) FROM stored`,
        [
          request.id,
          request.target,
          JSON.stringify(request.command),
          request.receivedBy,
          new Date().toISOString(),
        ],
      )
    ).rows[0] as TriggerRow;
    return trigger(row);
  }

  async openTriggers(owner: string): Promise<StoredTrigger[]> {
    return (
      await this.#db.query<TriggerRow>(
        `SELECT t.* FROM driftless_triggers t JOIN driftless_target_leases l ON l.target = t.target
         WHERE l.owner = $1 AND t.done_at IS NULL ORDER BY t.seq`,
        [owner],
      )
    ).rows.map(trigger);
  }

  async getTrigger(id: string): Promise<StoredTrigger | undefined> {
    const row = (await this.#db.query<TriggerRow>("SELECT * FROM driftless_triggers WHERE id = $1", [id]))
      .rows[0];
    return row ? trigger(row) : undefined;
  }

  async completeTrigger(
    id: string,
    outcome: { runId?: string; error?: string },
    fence: Fence,
  ): Promise<void> {
    const { rowCount } = await this.#db.query(
      `UPDATE driftless_triggers SET done_at = $2, run_id = $3, error = $4
       WHERE id = $1 AND done_at IS NULL AND ${fenceSql("driftless_triggers.target", "$5", "$6")}`,
      [id, new Date().toISOString(), outcome.runId ?? null, outcome.error ?? null, fence.owner, fence.epoch],
    );
    if (rowCount > 0) return;
    const found = await this.getTrigger(id);
    if (found && !found.doneAt) throw new FencedError(found.target, fence.owner, fence.epoch);
  }

  onTrigger(listener: (target: string) => void): Promise<() => void> {
    return this.#db.listen(TRIGGER_CHANNEL, listener);
  }

  async pruneTriggers(olderThanMs: number): Promise<void> {
    await this.#db.query("DELETE FROM driftless_triggers WHERE done_at IS NOT NULL AND done_at < $1", [
      new Date(Date.now() - olderThanMs).toISOString(),
    ]);
  }
}
