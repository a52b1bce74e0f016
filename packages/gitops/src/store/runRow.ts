/** How a row of the runs table reads back, once each store has decoded its column types. */
import type { ChangeCounts, PlannedStep } from "../engine/types.js";
import type { RunOverride, RunRecord, RunResult, Trigger } from "../types.js";

/** A row of the runs table with JSON and boolean columns decoded (PostgreSQL's driver does it; SQLite's store does). */
export interface DecodedRunRow {
  id: string;
  target: string;
  trigger: string;
  revision: string | null;
  started_at: string;
  finished_at: string | null;
  result: string | null;
  counts: ChangeCounts | null;
  drift: boolean;
  error: string | null;
  log: string;
  override: RunOverride | null;
  plan: PlannedStep[] | null;
  owner: string | null;
  approval: RunOverride | null;
}

/** A run as recorded. */
export function runFromRow(row: DecodedRunRow): RunRecord {
  return {
    id: row.id,
    target: row.target,
    trigger: row.trigger as Trigger,
    ...(row.revision ? { revision: row.revision } : {}),
    startedAt: row.started_at,
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    ...(row.result ? { result: row.result as RunResult } : {}),
    ...(row.counts ? { counts: row.counts } : {}),
    drift: row.drift,
    ...(row.error ? { error: row.error } : {}),
    log: row.log,
    ...(row.override ? { override: row.override } : {}),
    ...(row.plan ? { plan: row.plan } : {}),
    ...(row.approval ? { approval: row.approval } : {}),
  };
}
