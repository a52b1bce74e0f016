/**
 * The PostgreSQL implementation of every store interface, for several replicas on several hosts
 * sharing one database. Versioned migrations run once, in a transaction, under an advisory lock;
 * lease expiry is reckoned on the database's clock, so replicas' clocks need not agree. Replica
 * coordination (members, target leases, the trigger inbox) is in `replicas.ts`, the schema in `schema.ts`.
 */

import { isLocalOwner, isOwnerDead } from "../../engine/process.js";
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
import { runFromRow } from "../runRow.js";
import type { Store } from "../store.js";
import { PostgresAudit } from "./audit.js";
import { type PostgresConnection, type ResolvedConnection, resolveConnection } from "./connection.js";
import { AsyncPostgres, type PostgresTimeouts, type Queryable, type Row } from "./pool.js";
import { fencedWrite, PostgresReplicas } from "./replicas.js";
import { PostgresResourceHistory } from "./resourceHistory.js";
import { PostgresReviewStacks } from "./reviewStacks.js";
import { leaseFromRow, MIGRATIONS, NOW_MS, type RunRow, type StackLockRow } from "./schema.js";
import { PostgresPersonalTokens } from "./tokens.js";

export {
  isPostgresUrl,
  type PostgresConnection,
  type ResolvedConnection,
  resolveConnection,
} from "./connection.js";

/** How long a readiness ping waits for `SELECT 1` before it answers not ready. */
const PING_TIMEOUT_MS = 2000;

/** Serialises migrations of every process on this database (any fixed 64-bit number). */
const MIGRATION_LOCK = 7_310_214_633_001;

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/**
 * Status, history, promotions and stack leases in PostgreSQL (tables
 * `driftless_*`), through a node-postgres pool on the calling thread.
 * {@link PostgresStore.open} connects and migrates.
 */
export class PostgresStore extends AuditStoreBase implements Store {
  readonly #db: AsyncPostgres;
  protected readonly replicas: PostgresReplicas;
  protected readonly resourceChanges: PostgresResourceHistory;
  protected readonly auditLog: PostgresAudit;
  readonly personalTokens: PostgresPersonalTokens;
  readonly reviewStacks: PostgresReviewStacks;
  /** The connection without its password, safe to log and show. */
  readonly url: string;
  /** The password, handed to the Pulumi engine as `PGPASSWORD` for the state backend; never logged. */
  readonly #password: string | undefined;

  private constructor(resolved: ResolvedConnection, timeouts?: Partial<PostgresTimeouts>) {
    super();
    this.url = resolved.publicUrl;
    this.#password = resolved.password;
    this.#db = new AsyncPostgres(resolved.pool, timeouts);
    this.replicas = new PostgresReplicas(this.#db);
    this.resourceChanges = new PostgresResourceHistory(this.#db);
    this.auditLog = new PostgresAudit(this.#db);
    this.personalTokens = new PostgresPersonalTokens(this.#db);
    this.reviewStacks = new PostgresReviewStacks(this.#db);
  }

  /**
   * Connects and migrates.
   * @param timeouts - bounds on connecting, on each query and on lock waits; those not given keep {@link DEFAULT_TIMEOUTS}
   * @throws StoreUnavailableError when the database cannot be reached
   * @throws SpecError naming the connection field that is wrong
   */
  static async open(
    connection: string | PostgresConnection,
    timeouts?: Partial<PostgresTimeouts>,
  ): Promise<PostgresStore> {
    const store = new PostgresStore(resolveConnection(connection), timeouts);
    try {
      await store.#migrate();
    } catch (error) {
      await store.#db.close();
      throw error;
    }
    return store;
  }

  /** The schema version after migrations. */
  async schemaVersion(db: Queryable = this.#db): Promise<number> {
    const { rows } = await db.query<{ version: number | null }>(
      "SELECT max(version)::int AS version FROM driftless_schema",
    );
    return rows[0]?.version ?? 0;
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /**
   * Whether the database answers now (for readiness probes); `false` at once
   * while an outage is known (the background probe finds it back).
   */
  async ping(): Promise<boolean> {
    if (this.#db.outage) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    const answered = this.#db.query("SELECT 1").then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The Pulumi DIY backend URL for state kept in this database (table
   * `pulumi_state`), without the password, and the environment the engine
   * needs to connect.
   */
  stateBackend(): { readonly url: string; readonly env: Readonly<Record<string, string>> } {
    return { url: this.url, env: this.#password !== undefined ? { PGPASSWORD: this.#password } : {} };
  }

  async #migrate(): Promise<void> {
    // Replicas may start together: the advisory lock makes the others wait
    // until the first committed, then they find nothing left to do.
    await this.#db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await tx.query(
        `CREATE TABLE IF NOT EXISTS driftless_schema (
           version INTEGER PRIMARY KEY,
           applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )`,
      );
      const current = await this.schemaVersion(tx);
      for (const [i, sql] of MIGRATIONS.slice(current).entries()) {
        await tx.query(sql);
        await tx.query("INSERT INTO driftless_schema (version) VALUES ($1)", [current + i + 1]);
      }
    });
  }

  async getStatus(name: string): Promise<TargetStatus | undefined> {
    const { rows } = await this.#db.query<{ status: TargetStatus }>(
      "SELECT status FROM driftless_targets WHERE name = $1",
      [name],
    );
    return rows[0]?.status;
  }

  async listStatuses(): Promise<TargetStatus[]> {
    return (
      await this.#db.query<{ status: TargetStatus }>("SELECT status FROM driftless_targets ORDER BY name")
    ).rows.map((r) => r.status);
  }

  async putStatus(status: TargetStatus, fence?: Fence): Promise<void> {
    await fencedWrite(
      this.#db,
      status.name,
      [status.name, JSON.stringify(status)],
      fence,
      (fenced) => `INSERT INTO driftless_targets (name, status) SELECT $1::text, $2::jsonb
       ${fenced("WHERE", "$1")}
       ON CONFLICT (name) DO UPDATE SET status = excluded.status`,
    );
  }

  async insertStatus(status: TargetStatus): Promise<boolean> {
    return (
      (
        await this.#db.query(
          "INSERT INTO driftless_targets (name, status) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
          [status.name, JSON.stringify(status)],
        )
      ).rowCount > 0
    );
  }

  async deleteTarget(name: string): Promise<void> {
    // One statement, so the status and the inventory go together.
    await this.#db.query(
      `WITH inventory AS (DELETE FROM driftless_inventories WHERE target = $1)
       DELETE FROM driftless_targets WHERE name = $1`,
      [name],
    );
  }

  async putInventory(inventory: TargetInventory, fence?: Fence): Promise<void> {
    // JSON, not JSONB: written and read whole; as JSONB a 1 MiB inventory wrote ~5× and read ~2× slower
    // (`bench/run.ts --only inventory`). A column made JSONB takes it too (an assignment cast).
    await fencedWrite(
      this.#db,
      inventory.target,
      [inventory.target, JSON.stringify(inventory)],
      fence,
      (fenced) => `INSERT INTO driftless_inventories (target, inventory) SELECT $1::text, $2::json
       ${fenced("WHERE", "$1")}
       ON CONFLICT (target) DO UPDATE SET inventory = excluded.inventory`,
    );
  }

  async getInventory(target: string): Promise<TargetInventory | undefined> {
    const { rows } = await this.#db.query<{ inventory: TargetInventory }>(
      "SELECT inventory FROM driftless_inventories WHERE target = $1",
      [target],
    );
    return rows[0]?.inventory;
  }

  async startRun(run: RunRecord, owner?: string, fence?: Fence): Promise<void> {
    const params: unknown[] = [
      run.id,
      run.target,
      run.trigger,
      run.revision ?? null,
      run.startedAt,
      run.drift,
      run.log,
      json(run.override),
      owner ?? null,
      json(run.approval),
    ];
    await fencedWrite(
      this.#db,
      run.target,
      params,
      fence,
      (fenced) =>
        `INSERT INTO driftless_runs (id, target, trigger, revision, started_at, drift, log, override, owner, approval)
       SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::text, $8::jsonb, $9::text, $10::jsonb
       ${fenced("WHERE", "$2")}`,
    );
  }

  async finishRun(run: RunRecord, fence?: Fence): Promise<void> {
    const params: unknown[] = [
      run.revision ?? null,
      run.finishedAt ?? new Date().toISOString(),
      run.result ?? null,
      json(run.counts),
      run.drift,
      run.error ?? null,
      run.log,
      json(run.plan),
      run.id,
    ];
    await fencedWrite(
      this.#db,
      run.target,
      params,
      fence,
      (fenced) =>
        `UPDATE driftless_runs SET revision = $1, finished_at = $2, result = $3, counts = $4, drift = $5,
         error = $6, log = $7, plan = $8 WHERE id = $9
         ${fenced("AND finished_at IS NULL AND", "driftless_runs.target")}`,
    );
  }

  async markRunDrift(run: { readonly id: string; readonly target: string }, fence?: Fence): Promise<void> {
    await fencedWrite(
      this.#db,
      run.target,
      [run.id],
      fence,
      (fenced) => `UPDATE driftless_runs SET drift = true WHERE id = $1 AND finished_at IS NULL
         ${fenced("AND", "driftless_runs.target")}`,
    );
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = (await this.#db.query<RunRow>("SELECT * FROM driftless_runs WHERE id = $1", [id])).rows[0];
    return row ? runFromRow(row) : undefined;
  }

  async listRuns(target: string, limit = 50): Promise<RunRecord[]> {
    return (
      await this.#db.query<RunRow>(
        "SELECT * FROM driftless_runs WHERE target = $1 ORDER BY started_at DESC, seq DESC LIMIT $2",
        [target, limit],
      )
    ).rows.map(runFromRow);
  }

  async appendLog(runId: string, chunk: string): Promise<void> {
    if (chunk === "") return;
    // Offsets count UTF-16 code units (JavaScript's length), not PostgreSQL's characters.
    await this.#db.query(
      `INSERT INTO driftless_run_logs (run_id, start_offset, end_offset, text)
       SELECT $1, last, last + $3, $2
       FROM (SELECT COALESCE(max(end_offset), 0) AS last FROM driftless_run_logs WHERE run_id = $1) AS tail`,
      [runId, chunk, chunk.length],
    );
  }

  async readLog(runId: string, fromOffset = 0): Promise<RunLogChunk> {
    const { rows } = await this.#db.query<{ start: number; end: number; text: string }>(
      `SELECT start_offset AS start, end_offset AS end, text FROM driftless_run_logs
       WHERE run_id = $1 AND end_offset > $2 ORDER BY start_offset`,
      [runId, fromOffset],
    );
    const first = rows[0];
    if (!first) {
      const last =
        (
          await this.#db.query<{ last: number }>(
            "SELECT COALESCE(max(end_offset), 0)::int AS last FROM driftless_run_logs WHERE run_id = $1",
            [runId],
          )
        ).rows[0]?.last ?? 0;
      return { text: "", offset: Math.min(Math.max(0, fromOffset), last) };
    }
    const text = rows.map((r) => r.text).join("");
    const skip = Math.max(0, fromOffset - first.start);
    return { text: text.slice(skip), offset: (rows.at(-1) as { end: number }).end };
  }

  async appliedRevisions(target: string, limit = 50): Promise<string[]> {
    return (
      await this.#db.query<{ revision: string }>(
        `SELECT revision, max(finished_at) AS last FROM driftless_runs
         WHERE target = $1 AND revision IS NOT NULL AND result IN ('applied', 'drift-corrected', 'unchanged')
         GROUP BY revision ORDER BY last DESC LIMIT $2`,
        [target, limit],
      )
    ).rows.map((r) => r.revision);
  }

  async markInterrupted(targets?: readonly string[]): Promise<RunRecord[]> {
    const inScope = (target: string) => targets === undefined || targets.includes(target);
    return this.#db.transaction(async (tx) => {
      const { rows: locks } = await tx.query<StackLockRow & { live: boolean }>(
        `SELECT *, expires_at > ${NOW_MS} AS live FROM driftless_stack_locks FOR UPDATE`,
      );
      const leaseholders = new Set<string>();
      for (const lock of locks) {
        if (!isOwnerDead(lock.owner)) {
          if (lock.live) leaseholders.add(lock.owner);
        } else if (inScope(lock.target)) {
          await tx.query("DELETE FROM driftless_stack_locks WHERE key = $1 AND owner = $2", [
            lock.key,
            lock.owner,
          ]);
        }
      }
      // As in SqliteStore: a live process holds a lease for as long as it has a
      // run in progress; only a process of this host can be probed directly.
      const gone = (owner: string | null) =>
        owner === null || isOwnerDead(owner) || !(isLocalOwner(owner) || leaseholders.has(owner));
      const rows = (
        await tx.query<RunRow>("SELECT * FROM driftless_runs WHERE finished_at IS NULL FOR UPDATE")
      ).rows.filter((r) => inScope(r.target) && gone(r.owner));
      const now = new Date().toISOString();
      for (const row of rows) {
        await tx.query(
          `UPDATE driftless_runs SET finished_at = $1, result = 'interrupted',
             error = 'the process stopped during this run; the next run recovers the stack'
           WHERE id = $2 AND finished_at IS NULL`,
          [now, row.id],
        );
      }
      return rows.map((r) => ({ ...runFromRow(r), finishedAt: now, result: "interrupted" as const }));
    });
  }

  async recordPromotion(promotion: PromotionRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO driftless_promotions (id, target, source, revision, previous_revision, kind, by, reason, at, on_behalf_of)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
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
      ],
    );
  }

  async listPromotions(target: string, limit = 50): Promise<PromotionRecord[]> {
    return (
      await this.#db.query<Row>(
        "SELECT * FROM driftless_promotions WHERE target = $1 ORDER BY at DESC, seq DESC LIMIT $2",
        [target, limit],
      )
    ).rows.map((row) => ({
      id: row.id as string,
      target: row.target as string,
      source: row.source as string,
      revision: row.revision as string,
      ...(row.previous_revision ? { previousRevision: row.previous_revision as string } : {}),
      kind: row.kind as PromotionKind,
      ...(row.by ? { by: row.by as string } : {}),
      ...(row.reason ? { reason: row.reason as string } : {}),
      ...(row.on_behalf_of ? { onBehalfOf: row.on_behalf_of as string } : {}),
      at: row.at as string,
    }));
  }

  async tryLockStack(request: StackLockRequest, ttlMs: number): Promise<StackLease | undefined> {
    return this.#db.transaction(async (tx): Promise<StackLease | undefined> => {
      // A row lock cannot guard a row that does not exist yet: an advisory
      // lock on the key serialises two replicas taking a free stack at once.
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [request.key]);
      const held = (
        await tx.query<StackLockRow & { live: boolean }>(
          `SELECT *, expires_at > ${NOW_MS} AS live FROM driftless_stack_locks WHERE key = $1`,
          [request.key],
        )
      ).rows[0];
      if (held) {
        const mine = held.owner === request.owner && held.run_id === request.runId;
        if (!mine && held.live && !isOwnerDead(held.owner)) return leaseFromRow(held);
        if (mine) {
          await tx.query(`UPDATE driftless_stack_locks SET expires_at = ${NOW_MS} + $2 WHERE key = $1`, [
            request.key,
            ttlMs,
          ]);
          return undefined;
        }
      }
      await tx.query(
        `INSERT INTO driftless_stack_locks (key, owner, target, run_id, acquired_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, ${NOW_MS} + $6)
         ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, target = excluded.target,
           run_id = excluded.run_id, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
        [request.key, request.owner, request.target, request.runId, new Date().toISOString(), ttlMs],
      );
      return undefined;
    });
  }

  async getStackLock(key: string): Promise<StackLease | undefined> {
    const row = (
      await this.#db.query<StackLockRow>("SELECT * FROM driftless_stack_locks WHERE key = $1", [key])
    ).rows[0];
    return row ? leaseFromRow(row) : undefined;
  }

  async renewStackLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return (
      (
        await this.#db.query(
          `UPDATE driftless_stack_locks SET expires_at = ${NOW_MS} + $3 WHERE key = $1 AND owner = $2`,
          [key, owner, ttlMs],
        )
      ).rowCount > 0
    );
  }

  async unlockStack(key: string, owner: string): Promise<void> {
    await this.#db.query("DELETE FROM driftless_stack_locks WHERE key = $1 AND owner = $2", [key, owner]);
  }

  onTrigger(listener: (target: string) => void): Promise<() => void> {
    return this.replicas.onTrigger(listener);
  }

  async revokeSession(id: string, expiresAt: number): Promise<void> {
    // Expiry is the signer's clock (the cookie's), not the database's.
    await this.#db.transaction(async (tx) => {
      await tx.query("DELETE FROM driftless_session_revocations WHERE expires_at <= $1", [Date.now()]);
      await tx.query(
        `INSERT INTO driftless_session_revocations (id, expires_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
        [id, expiresAt],
      );
    });
  }

  async isSessionRevoked(id: string): Promise<boolean> {
    return (
      (await this.#db.query("SELECT 1 FROM driftless_session_revocations WHERE id = $1", [id])).rowCount > 0
    );
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
