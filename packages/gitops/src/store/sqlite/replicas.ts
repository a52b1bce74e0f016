/**
 * Replica coordination in the SQLite file: members and heartbeats, target
 * leases with a fencing epoch, and the trigger inbox, for several processes
 * of one host sharing the file. Writes take SQLite's write lock first
 * (BEGIN IMMEDIATE), so a check and the write it guards cannot interleave.
 */
import type Database from "better-sqlite3";
import { FencedError } from "../../errors.js";
import type { Fence, Member, MemberInfo, StoredTrigger, TargetLease, TriggerCommand } from "../../types.js";
import type { Acquired, MembershipStore, OwnershipStore, TriggerInbox } from "../store.js";
import { fromRow, type RunRow } from "./schema.js";

/** The condition a fenced write adds: the writer holds the target's lease at its epoch (`?` owner, `?` epoch). */
export function fenceSql(target: string): string {
  return `EXISTS (SELECT 1 FROM target_leases WHERE target = ${target} AND owner = ? AND epoch = ?)`;
}

interface MemberRow {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: number;
  expires_at: number;
}

interface LeaseRow {
  target: string;
  owner: string | null;
  epoch: number;
  expires_at: number;
}

interface TriggerRow {
  id: string;
  target: string;
  command: string;
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
  command: JSON.parse(r.command) as TriggerCommand,
  receivedBy: r.received_by,
  createdAt: r.created_at,
  ...(r.run_id ? { runId: r.run_id } : {}),
  ...(r.error ? { error: r.error } : {}),
  ...(r.done_at ? { doneAt: r.done_at } : {}),
});

const INTERRUPTED_ERROR = "the replica running it stopped; the next owner recovers the stack";

/** Membership, ownership and the trigger inbox in one SQLite database. */
export class SqliteReplicas implements MembershipStore, OwnershipStore, TriggerInbox {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async heartbeat(info: MemberInfo, ttlMs: number): Promise<{ members: Member[]; leases: TargetLease[] }> {
    return this.#db
      .transaction(() => {
        const now = Date.now();
        this.#db.prepare("DELETE FROM members WHERE expires_at <= ?").run(now);
        this.#db
          .prepare(
            `INSERT INTO members (id, host, pid, started_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
          )
          .run(info.id, info.host, info.pid, info.startedAt, now, now + ttlMs);
        this.#db.prepare("UPDATE target_leases SET expires_at = ? WHERE owner = ?").run(now + ttlMs, info.id);
        const leases = this.#db
          .prepare("SELECT * FROM target_leases WHERE owner = ? ORDER BY target")
          .all(info.id) as LeaseRow[];
        const members = this.#db.prepare("SELECT * FROM members ORDER BY id").all() as MemberRow[];
        return { members: members.map(member), leases: leases.map(lease) };
      })
      .immediate();
  }

  async leave(id: string): Promise<void> {
    this.#db
      .transaction(() => {
        this.#db.prepare("DELETE FROM members WHERE id = ?").run(id);
        this.#db.prepare("UPDATE target_leases SET owner = NULL, expires_at = 0 WHERE owner = ?").run(id);
      })
      .immediate();
  }

  async listMembers(): Promise<Member[]> {
    return (
      this.#db
        .prepare("SELECT * FROM members WHERE expires_at > ? ORDER BY id")
        .all(Date.now()) as MemberRow[]
    ).map(member);
  }

  async acquireTarget(target: string, owner: string, ttlMs: number): Promise<Acquired> {
    return this.#db
      .transaction((): Acquired => {
        const now = Date.now();
        const held = this.#db.prepare("SELECT * FROM target_leases WHERE target = ?").get(target) as
          | LeaseRow
          | undefined;
        if (held?.owner === owner) {
          this.#db
            .prepare("UPDATE target_leases SET expires_at = ? WHERE target = ?")
            .run(now + ttlMs, target);
          return { taken: true, lease: lease({ ...held, expires_at: now + ttlMs }), interrupted: [] };
        }
        if (held?.owner && held.expires_at > now) return { taken: false, holder: lease(held) };
        const epoch = (held?.epoch ?? 0) + 1;
        this.#db
          .prepare(
            `INSERT INTO target_leases (target, owner, epoch, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(target) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch,
               acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
          )
          .run(target, owner, epoch, now, now + ttlMs);
        const unfinished = this.#db
          .prepare(
            "SELECT * FROM runs WHERE target = ? AND finished_at IS NULL AND (owner IS NULL OR owner <> ?)",
          )
          .all(target, owner) as RunRow[];
        const finishedAt = new Date(now).toISOString();
        const mark = this.#db.prepare(
          "UPDATE runs SET finished_at = ?, result = 'interrupted', error = ? WHERE id = ? AND finished_at IS NULL",
        );
        for (const run of unfinished) mark.run(finishedAt, INTERRUPTED_ERROR, run.id);
        return {
          taken: true,
          lease: { target, owner, epoch, expiresAt: now + ttlMs },
          ...(held?.owner ? { tookOverFrom: held.owner } : {}),
          interrupted: unfinished.map((r) => ({
            ...fromRow(r),
            finishedAt,
            result: "interrupted" as const,
            error: INTERRUPTED_ERROR,
          })),
        };
      })
      .immediate();
  }

  async releaseTarget(target: string, fence: Fence): Promise<void> {
    this.#db
      .prepare(
        "UPDATE target_leases SET owner = NULL, expires_at = 0 WHERE target = ? AND owner = ? AND epoch = ?",
      )
      .run(target, fence.owner, fence.epoch);
  }

  async listTargetLeases(targets?: readonly string[]): Promise<TargetLease[]> {
    const only = targets ? "AND target IN (SELECT value FROM json_each(?))" : "";
    return (
      this.#db
        .prepare(`SELECT * FROM target_leases WHERE owner IS NOT NULL ${only} ORDER BY target`)
        .all(...(targets ? [JSON.stringify(targets)] : [])) as LeaseRow[]
    ).map(lease);
  }

  async addTrigger(request: {
    readonly id: string;
    readonly target: string;
    readonly command: TriggerCommand;
    readonly receivedBy: string;
  }): Promise<StoredTrigger> {
    const createdAt = new Date().toISOString();
    this.#db
      .prepare("INSERT INTO triggers (id, target, command, received_by, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(request.id, request.target, JSON.stringify(request.command), request.receivedBy, createdAt);
    return { ...request, createdAt };
  }

  async openTriggers(owner: string): Promise<StoredTrigger[]> {
    return (
      this.#db
        .prepare(
          `SELECT t.* FROM triggers t JOIN target_leases l ON l.target = t.target
           WHERE l.owner = ? AND t.done_at IS NULL ORDER BY t.rowid`,
        )
        .all(owner) as TriggerRow[]
    ).map(trigger);
  }

  async getTrigger(id: string): Promise<StoredTrigger | undefined> {
    const row = this.#db.prepare("SELECT * FROM triggers WHERE id = ?").get(id) as TriggerRow | undefined;
    return row ? trigger(row) : undefined;
  }

  async completeTrigger(
    id: string,
    outcome: { runId?: string; error?: string },
    fence: Fence,
  ): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `UPDATE triggers SET done_at = ?, run_id = ?, error = ?
         WHERE id = ? AND done_at IS NULL AND ${fenceSql("triggers.target")}`,
      )
      .run(
        new Date().toISOString(),
        outcome.runId ?? null,
        outcome.error ?? null,
        id,
        fence.owner,
        fence.epoch,
      );
    if (changes > 0) return;
    const found = await this.getTrigger(id);
    if (found && !found.doneAt) throw new FencedError(found.target, fence.owner, fence.epoch);
  }

  async pruneTriggers(olderThanMs: number): Promise<void> {
    this.#db
      .prepare("DELETE FROM triggers WHERE done_at IS NOT NULL AND done_at < ?")
      .run(new Date(Date.now() - olderThanMs).toISOString());
  }
}
