import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { ChangeCounts, PlannedStep } from "./engine.js";

/** Condition types of a target, after Flux and Kubernetes status conventions. */
export type ConditionType = "Ready" | "Reconciling" | "Drifted" | "Stalled" | "Suspended";

/** One condition of a target's status. */
export interface Condition {
  readonly type: ConditionType;
  readonly status: boolean;
  /** CamelCase reason, stable for aggregation (e.g. `Applied`, `GateRefused`). */
  readonly reason: string;
  readonly message: string;
  /** When the status last flipped (ISO 8601). */
  readonly since: string;
}

/** The persisted status of one target. */
export interface TargetStatus {
  readonly name: string;
  readonly conditions: readonly Condition[];
  readonly lastAttemptedRevision?: string;
  readonly lastAppliedRevision?: string;
  readonly lastAppliedAt?: string;
  /** When the last refresh + preview of an unchanged revision ran. */
  readonly lastDriftCheckAt?: string;
  /** A revision that stalled; it is not retried until a new revision, an approval or a manual run. */
  readonly stalledRevision?: string;
  /** A revision a person approved past a gate or a rewritten ref. */
  readonly approvedRevision?: string;
  /** When a change window next opens for changes a run deferred (ISO 8601). */
  readonly deferredUntil?: string;
  /** A plan that waits for `Reconciler.approve`, pinned to its revision. */
  readonly awaitingApproval?: PendingApproval;
  /** Stack outputs after the last successful apply (secrets masked). */
  readonly outputs?: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

/** A planned `up` that waits for a person's approval. */
export interface PendingApproval {
  readonly revision: string;
  readonly runId: string;
  readonly counts: ChangeCounts;
  /** Digest of the planned steps; an approval applies only this plan. */
  readonly digest: string;
  /** When the plan was made (ISO 8601). */
  readonly plannedAt: string;
}

/** Who ran a run past a change window, and why; recorded in history. */
export interface RunOverride {
  readonly by: string;
  readonly reason: string;
}

/** What started a run. */
export type Trigger =
  | "interval"
  | "schedule"
  | "webhook"
  | "manual"
  | "resync"
  | "retry"
  | "dependency"
  | "startup";

/** How a run ended. */
export type RunResult =
  | "applied"
  | "unchanged"
  | "drift-corrected"
  | "drift-detected"
  | "planned"
  | "skipped"
  | "failed"
  | "stalled"
  | "cancelled"
  | "interrupted"
  | "destroyed"
  /** Changes wait for a change window to open. */
  | "deferred"
  /** Changes wait for `Reconciler.approve`. */
  | "awaiting-approval";

/** One row of a target's history. */
export interface RunRecord {
  readonly id: string;
  readonly target: string;
  readonly trigger: Trigger;
  readonly revision?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly result?: RunResult;
  readonly counts?: ChangeCounts;
  readonly drift: boolean;
  readonly error?: string;
  /** The last lines of the run log, secrets redacted. */
  readonly log: string;
  /** Set when the run was started past a change window. */
  readonly override?: RunOverride;
  /** The planned steps, for a run that waits for approval. */
  readonly plan?: readonly PlannedStep[];
}

/** Where status and history live. {@link SqliteStore} is the embedded default. */
export interface Store {
  getStatus(name: string): TargetStatus | undefined;
  listStatuses(): TargetStatus[];
  putStatus(status: TargetStatus): void;
  deleteTarget(name: string): void;
  startRun(run: RunRecord): void;
  finishRun(run: RunRecord): void;
  getRun(id: string): RunRecord | undefined;
  listRuns(target: string, limit?: number): RunRecord[];
  /** Marks runs that never finished (the process died) as `interrupted`; returns them. */
  markInterrupted(): RunRecord[];
  readonly isOpen: boolean;
  close(): void;
}

/** Schema versions, applied in order; each runs once, inside a transaction. */
const MIGRATIONS: readonly string[] = [
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
];

interface RunRow {
  id: string;
  target: string;
  trigger: string;
  revision: string | null;
  started_at: string;
  finished_at: string | null;
  result: string | null;
  counts: string | null;
  drift: number;
  error: string | null;
  log: string;
  override: string | null;
  plan: string | null;
}

function fromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    target: row.target,
    trigger: row.trigger as Trigger,
    ...(row.revision ? { revision: row.revision } : {}),
    startedAt: row.started_at,
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    ...(row.result ? { result: row.result as RunResult } : {}),
    ...(row.counts ? { counts: JSON.parse(row.counts) as ChangeCounts } : {}),
    drift: row.drift === 1,
    ...(row.error ? { error: row.error } : {}),
    log: row.log,
    ...(row.override ? { override: JSON.parse(row.override) as RunOverride } : {}),
    ...(row.plan ? { plan: JSON.parse(row.plan) as PlannedStep[] } : {}),
  };
}

/** Status and history in one SQLite file (`<dataDir>/driftless.db` by default), WAL mode. */
export class SqliteStore implements Store {
  readonly #db: Database.Database;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#migrate();
  }

  /** The schema version after migrations. */
  get schemaVersion(): number {
    return this.#db.pragma("user_version", { simple: true }) as number;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  #migrate(): void {
    const current = this.schemaVersion;
    MIGRATIONS.slice(current).forEach((sql, i) => {
      this.#db.transaction(() => {
        this.#db.exec(sql);
        this.#db.pragma(`user_version = ${current + i + 1}`);
      })();
    });
  }

  getStatus(name: string): TargetStatus | undefined {
    const row = this.#db.prepare("SELECT status FROM targets WHERE name = ?").get(name) as
      | { status: string }
      | undefined;
    return row ? (JSON.parse(row.status) as TargetStatus) : undefined;
  }

  listStatuses(): TargetStatus[] {
    const rows = this.#db.prepare("SELECT status FROM targets ORDER BY name").all() as { status: string }[];
    return rows.map((r) => JSON.parse(r.status) as TargetStatus);
  }

  putStatus(status: TargetStatus): void {
    this.#db
      .prepare(
        "INSERT INTO targets (name, status) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET status = excluded.status",
      )
      .run(status.name, JSON.stringify(status));
  }

  deleteTarget(name: string): void {
    this.#db.prepare("DELETE FROM targets WHERE name = ?").run(name);
  }

  startRun(run: RunRecord): void {
    this.#db
      .prepare(
        `INSERT INTO runs (id, target, trigger, revision, started_at, drift, log, override)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
      );
  }

  finishRun(run: RunRecord): void {
    this.#db
      .prepare(
        `UPDATE runs SET revision = ?, finished_at = ?, result = ?, counts = ?, drift = ?, error = ?, log = ?,
           plan = ? WHERE id = ?`,
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
      );
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  listRuns(target: string, limit = 50): RunRecord[] {
    const rows = this.#db
      .prepare("SELECT * FROM runs WHERE target = ? ORDER BY started_at DESC, rowid DESC LIMIT ?")
      .all(target, limit) as RunRow[];
    return rows.map(fromRow);
  }

  markInterrupted(): RunRecord[] {
    const rows = this.#db.prepare("SELECT * FROM runs WHERE finished_at IS NULL").all() as RunRow[];
    const now = new Date().toISOString();
    this.#db
      .prepare(
        `UPDATE runs SET finished_at = ?, result = 'interrupted',
           error = 'the process stopped during this run; the next run recovers the stack' WHERE finished_at IS NULL`,
      )
      .run(now);
    return rows.map((r) => ({ ...fromRow(r), finishedAt: now, result: "interrupted" as const }));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
