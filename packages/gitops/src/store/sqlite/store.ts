/**
 * The embedded store: one SQLite file holds status, history, run logs,
 * promotions, leases and the coordination of replicas sharing the file
 * (`replicas.ts`; the schema is in `schema.ts`).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { isLocalOwner, isOwnerDead } from "../../engine/process.js";
import { FencedError } from "../../errors.js";
import type {
  Fence,
  PromotionKind,
  PromotionRecord,
  RunLogChunk,
  RunRecord,
  StackLease,
  StackLockRequest,
  TargetInventory,
  TargetStatus,
} from "../../types.js";
import { AuditStoreBase } from "../audit/base.js";
import type { Store } from "../store.js";
import { SqliteAudit } from "./audit.js";
import { fenceSql, SqliteReplicas } from "./replicas.js";
import { SqliteResourceHistory } from "./resourceHistory.js";
import { SqliteReviewStacks } from "./reviewStacks.js";
import { fromRow, MIGRATIONS, type RunRow } from "./schema.js";
import { SqlitePersonalTokens } from "./tokens.js";

interface StackLockRow {
  key: string;
  owner: string;
  target: string;
  run_id: string;
  acquired_at: string;
  expires_at: number;
}

function leaseFromRow(row: StackLockRow): StackLease {
  return {
    key: row.key,
    owner: row.owner,
    target: row.target,
    runId: row.run_id,
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
  };
}

interface PromotionRow {
  id: string;
  target: string;
  source: string;
  revision: string;
  previous_revision: string | null;
  kind: string;
  by: string | null;
  reason: string | null;
  on_behalf_of: string | null;
  at: string;
}

/** Status and history in one SQLite file (`<dataDir>/driftless.db` by default), WAL mode. */
export class SqliteStore extends AuditStoreBase implements Store {
  readonly #db: Database.Database;
  protected readonly replicas: SqliteReplicas;
  protected readonly resourceChanges: SqliteResourceHistory;
  protected readonly auditLog: SqliteAudit;
  readonly personalTokens: SqlitePersonalTokens;
  readonly reviewStacks: SqliteReviewStacks;

  constructor(path: string) {
    super();
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#migrate();
    this.replicas = new SqliteReplicas(this.#db);
    this.resourceChanges = new SqliteResourceHistory(this.#db);
    this.auditLog = new SqliteAudit(this.#db);
    this.personalTokens = new SqlitePersonalTokens(this.#db);
    this.reviewStacks = new SqliteReviewStacks(this.#db);
  }

  /** The schema version after migrations. */
  get schemaVersion(): number {
    return this.#db.pragma("user_version", { simple: true }) as number;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  #migrate(): void {
    // Processes sharing the file may open it at once: the version is read under
    // the write lock (BEGIN IMMEDIATE), so each migration runs exactly once.
    this.#db
      .transaction(() => {
        const current = this.schemaVersion;
        MIGRATIONS.slice(current).forEach((sql, i) => {
          this.#db.exec(sql);
          this.#db.pragma(`user_version = ${current + i + 1}`);
        });
      })
      .immediate();
  }

  async getStatus(name: string): Promise<TargetStatus | undefined> {
    const row = this.#db.prepare("SELECT status FROM targets WHERE name = ?").get(name) as
      | { status: string }
      | undefined;
    return row ? (JSON.parse(row.status) as TargetStatus) : undefined;
  }

  async listStatuses(): Promise<TargetStatus[]> {
    const rows = this.#db.prepare("SELECT status FROM targets ORDER BY name").all() as { status: string }[];
    return rows.map((r) => JSON.parse(r.status) as TargetStatus);
  }

  async putStatus(status: TargetStatus, fence?: Fence): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `INSERT INTO targets (name, status) SELECT ?, ? ${fence ? `WHERE ${fenceSql("?")}` : "WHERE true"}
         ON CONFLICT(name) DO UPDATE SET status = excluded.status`,
      )
      .run(status.name, JSON.stringify(status), ...(fence ? [status.name, fence.owner, fence.epoch] : []));
    if (fence && changes === 0) throw new FencedError(status.name, fence.owner, fence.epoch);
  }

  async insertStatus(status: TargetStatus): Promise<boolean> {
    return (
      this.#db
        .prepare("INSERT INTO targets (name, status) VALUES (?, ?) ON CONFLICT(name) DO NOTHING")
        .run(status.name, JSON.stringify(status)).changes > 0
    );
  }

  async deleteTarget(name: string): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM targets WHERE name = ?").run(name);
      this.#db.prepare("DELETE FROM inventories WHERE target = ?").run(name);
    })();
  }

  async putInventory(inventory: TargetInventory, fence?: Fence): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `INSERT INTO inventories (target, inventory) SELECT ?, ? ${fence ? `WHERE ${fenceSql("?")}` : "WHERE true"}
         ON CONFLICT(target) DO UPDATE SET inventory = excluded.inventory`,
      )
      .run(
        inventory.target,
        JSON.stringify(inventory),
        ...(fence ? [inventory.target, fence.owner, fence.epoch] : []),
      );
    if (fence && changes === 0) throw new FencedError(inventory.target, fence.owner, fence.epoch);
  }

  async getInventory(target: string): Promise<TargetInventory | undefined> {
    const row = this.#db.prepare("SELECT inventory FROM inventories WHERE target = ?").get(target) as
      | { inventory: string }
      | undefined;
    return row ? (JSON.parse(row.inventory) as TargetInventory) : undefined;
  }

  async startRun(run: RunRecord, owner?: string, fence?: Fence): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `INSERT INTO runs (id, target, trigger, revision, started_at, drift, log, override, owner, approval)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ${fence ? `WHERE ${fenceSql("?")}` : ""}`,
      )
      .run(
        run.id,
        run.target,
        run.trigger,
        run.revision ?? null,
        run.startedAt,
        run.drift ? 1 : 0,
        run.log,
        run.override ? JSON.stringify(run.override) : null,
        owner ?? null,
        run.approval ? JSON.stringify(run.approval) : null,
        ...(fence ? [run.target, fence.owner, fence.epoch] : []),
      );
    if (fence && changes === 0) throw new FencedError(run.target, fence.owner, fence.epoch);
  }

  async finishRun(run: RunRecord, fence?: Fence): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `UPDATE runs SET revision = ?, finished_at = ?, result = ?, counts = ?, drift = ?, error = ?, log = ?,
           plan = ? WHERE id = ? ${fence ? `AND finished_at IS NULL AND ${fenceSql("runs.target")}` : ""}`,
      )
      .run(
        run.revision ?? null,
        run.finishedAt ?? new Date().toISOString(),
        run.result ?? null,
        run.counts ? JSON.stringify(run.counts) : null,
        run.drift ? 1 : 0,
        run.error ?? null,
        run.log,
        run.plan ? JSON.stringify(run.plan) : null,
        run.id,
        ...(fence ? [fence.owner, fence.epoch] : []),
      );
    if (fence && changes === 0) throw new FencedError(run.target, fence.owner, fence.epoch);
  }

  async markRunDrift(run: { readonly id: string; readonly target: string }, fence?: Fence): Promise<void> {
    const { changes } = this.#db
      .prepare(
        `UPDATE runs SET drift = 1 WHERE id = ? AND finished_at IS NULL ${fence ? `AND ${fenceSql("runs.target")}` : ""}`,
      )
      .run(run.id, ...(fence ? [fence.owner, fence.epoch] : []));
    if (fence && changes === 0) throw new FencedError(run.target, fence.owner, fence.epoch);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  async listRuns(target: string, limit = 50): Promise<RunRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM runs WHERE target = ? ORDER BY started_at DESC, rowid DESC LIMIT ?")
      .all(target, limit) as RunRow[];
    return rows.map(fromRow);
  }

  async appendLog(runId: string, chunk: string): Promise<void> {
    if (chunk === "") return;
    this.#db
      .transaction(() => {
        const { last } = this.#db
          .prepare("SELECT COALESCE(MAX(end_offset), 0) AS last FROM run_logs WHERE run_id = ?")
          .get(runId) as { last: number };
        this.#db
          .prepare("INSERT INTO run_logs (run_id, start_offset, end_offset, text) VALUES (?, ?, ?, ?)")
          .run(runId, last, last + chunk.length, chunk);
      })
      .immediate();
  }

  async readLog(runId: string, fromOffset = 0): Promise<RunLogChunk> {
    const rows = this.#db
      .prepare(
        `SELECT start_offset AS start, end_offset AS end, text FROM run_logs
         WHERE run_id = ? AND end_offset > ? ORDER BY start_offset`,
      )
      .all(runId, fromOffset) as { start: number; end: number; text: string }[];
    const first = rows[0];
    if (!first) {
      const { last } = this.#db
        .prepare("SELECT COALESCE(MAX(end_offset), 0) AS last FROM run_logs WHERE run_id = ?")
        .get(runId) as { last: number };
      return { text: "", offset: Math.min(Math.max(0, fromOffset), last) };
    }
    const text = rows.map((r) => r.text).join("");
    const skip = Math.max(0, fromOffset - first.start);
    return { text: text.slice(skip), offset: (rows.at(-1) as { end: number }).end };
  }

  async recordPromotion(promotion: PromotionRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO promotions (id, target, source, revision, previous_revision, kind, by, reason, at, on_behalf_of)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        promotion.id,
        promotion.target,
        promotion.source,
        promotion.revision,
        promotion.previousRevision ?? null,
        promotion.kind,
        promotion.by ?? null,
        promotion.reason ?? null,
        promotion.at,
        promotion.onBehalfOf ?? null,
      );
  }

  async listPromotions(target: string, limit = 50): Promise<PromotionRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM promotions WHERE target = ? ORDER BY at DESC, rowid DESC LIMIT ?")
      .all(target, limit) as PromotionRow[];
    return rows.map((row) => ({
      id: row.id,
      target: row.target,
      source: row.source,
      revision: row.revision,
      ...(row.previous_revision ? { previousRevision: row.previous_revision } : {}),
      kind: row.kind as PromotionKind,
      ...(row.by ? { by: row.by } : {}),
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.on_behalf_of ? { onBehalfOf: row.on_behalf_of } : {}),
      at: row.at,
    }));
  }

  async appliedRevisions(target: string, limit = 50): Promise<string[]> {
    const rows = this.#db
      .prepare(
        `SELECT revision, MAX(finished_at) AS last FROM runs
         WHERE target = ? AND revision IS NOT NULL AND result IN ('applied', 'drift-corrected', 'unchanged')
         GROUP BY revision ORDER BY last DESC LIMIT ?`,
      )
      .all(target, limit) as { revision: string }[];
    return rows.map((r) => r.revision);
  }

  async markInterrupted(targets?: readonly string[]): Promise<RunRecord[]> {
    const inScope = (target: string) => targets === undefined || targets.includes(target);
    return this.#db
      .transaction(() => {
        const locks = this.#db.prepare("SELECT * FROM stack_locks").all() as StackLockRow[];
        const release = this.#db.prepare("DELETE FROM stack_locks WHERE key = ? AND owner = ?");
        const leaseholders = new Set<string>();
        for (const lock of locks) {
          if (!isOwnerDead(lock.owner)) {
            if (lock.expires_at > Date.now()) leaseholders.add(lock.owner);
          } else if (inScope(lock.target)) release.run(lock.key, lock.owner);
        }
        // A live process holds a lease for as long as it has a run in progress;
        // only a process of this host can be probed directly.
        const gone = (owner: string | null) =>
          owner === null || isOwnerDead(owner) || !(isLocalOwner(owner) || leaseholders.has(owner));
        const rows = (
          this.#db.prepare("SELECT * FROM runs WHERE finished_at IS NULL").all() as RunRow[]
        ).filter((r) => inScope(r.target) && gone(r.owner));
        const now = new Date().toISOString();
        const mark = this.#db.prepare(
          `UPDATE runs SET finished_at = ?, result = 'interrupted',
             error = 'the process stopped during this run; the next run recovers the stack'
           WHERE id = ? AND finished_at IS NULL`,
        );
        for (const row of rows) mark.run(now, row.id);
        return rows.map((r) => ({ ...fromRow(r), finishedAt: now, result: "interrupted" as const }));
      })
      .immediate();
  }

  async tryLockStack(request: StackLockRequest, ttlMs: number): Promise<StackLease | undefined> {
    // BEGIN IMMEDIATE takes SQLite's write lock before the read, so two
    // processes cannot both see the lease free and both take it.
    return this.#db
      .transaction((): StackLease | undefined => {
        const now = Date.now();
        const held = this.#db.prepare("SELECT * FROM stack_locks WHERE key = ?").get(request.key) as
          | StackLockRow
          | undefined;
        if (held) {
          const mine = held.owner === request.owner && held.run_id === request.runId;
          if (!mine && held.expires_at > now && !isOwnerDead(held.owner)) return leaseFromRow(held);
          if (mine) {
            this.#db
              .prepare("UPDATE stack_locks SET expires_at = ? WHERE key = ?")
              .run(now + ttlMs, request.key);
            return undefined;
          }
        }
        this.#db
          .prepare(
            `INSERT INTO stack_locks (key, owner, target, run_id, acquired_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, target = excluded.target,
               run_id = excluded.run_id, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
          )
          .run(
            request.key,
            request.owner,
            request.target,
            request.runId,
            new Date(now).toISOString(),
            now + ttlMs,
          );
        return undefined;
      })
      .immediate();
  }

  async getStackLock(key: string): Promise<StackLease | undefined> {
    const row = this.#db.prepare("SELECT * FROM stack_locks WHERE key = ?").get(key) as
      | StackLockRow
      | undefined;
    return row ? leaseFromRow(row) : undefined;
  }

  async renewStackLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const result = this.#db
      .prepare("UPDATE stack_locks SET expires_at = ? WHERE key = ? AND owner = ?")
      .run(Date.now() + ttlMs, key, owner);
    return result.changes > 0;
  }

  async unlockStack(key: string, owner: string): Promise<void> {
    this.#db.prepare("DELETE FROM stack_locks WHERE key = ? AND owner = ?").run(key, owner);
  }

  async revokeSession(id: string, expiresAt: number): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM session_revocations WHERE expires_at <= ?").run(Date.now());
      this.#db
        .prepare(
          `INSERT INTO session_revocations (id, expires_at) VALUES (?, ?)
           ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at`,
        )
        .run(id, expiresAt);
    })();
  }

  async isSessionRevoked(id: string): Promise<boolean> {
    return this.#db.prepare("SELECT 1 FROM session_revocations WHERE id = ?").get(id) !== undefined;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
