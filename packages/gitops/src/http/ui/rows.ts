/**
 * What the overview shows of each target, read in bulk: every status in one
 * store read, each target's last run only when its status changed since it
 * was last read, and commit subjects (which never change for a revision) from
 * a cache, at most a few `git log` processes at a time for those not seen yet.
 */
import { LRUCache } from "lru-cache";
import { pullRequestUrl } from "../../pipelines/reviewStacks.js";
import type { Reconciler } from "../../reconciler.js";
import { condition, isSuspended } from "../../run/status.js";
import { Semaphore } from "../../schedule/semaphore.js";
import type { ReviewStackRecord, ReviewStackState } from "../../store/store.js";
import type { TargetStatus } from "../../types.js";
import { type DisplayState, displayState, waitingFor } from "./state.js";

/** One overview row's data. */
export interface TargetRow {
  readonly name: string;
  readonly state: DisplayState;
  readonly reason: string;
  readonly message: string;
  readonly revision?: string;
  readonly subject?: string;
  readonly lastRun?: LastRun;
  readonly nextCheck?: string;
  /** When the next refresh and preview of the applied revision is due (its resync). */
  readonly nextDriftCheck?: string;
  readonly waiting?: string;
  /** `apply`, `detect` or `preview`. */
  readonly mode?: string;
  /** The repository, for links to its commits. */
  readonly repo?: string;
  /** The branch moved past the applied revision and that change is not applied yet. */
  readonly behind?: boolean;
  /**
   * Whether the target drifted is not known (`Drifted=Unknown`, reason
   * `NotChecked`): the condition's message, "not checked since …". The state
   * shows only drift found, so the row says this beside it.
   */
  readonly driftUnchecked?: string;
  /** Set on a review stack's row: its base target and pull request (shown grouped under the base). */
  readonly review?: ReviewRow;
}

/** What a review stack's row shows besides a target's. */
export interface ReviewRow {
  readonly target: string;
  readonly number: number;
  readonly stack: string;
  readonly state?: ReviewStackState;
  /** The pull request's web page. */
  readonly url?: string;
}

/** A run as a row shows it. */
export interface LastRun {
  readonly id: string;
  readonly result: string;
  readonly at: string;
  /** How long it took, once finished. */
  readonly durationMs?: number;
}

/** How long a revision the local mirror does not know is not asked about again. */
const UNKNOWN_SUBJECT_TTL_MS = 60_000;
/** `git log` processes at once when many revisions are new. */
const SUBJECT_LOOKUPS = 4;

/** The overview's rows of one reconciler, with the caches that make them cheap to read again. */
export class RowSource {
  readonly #reconciler: Reconciler;
  /** Subjects by repository and revision; `null` for a revision the mirror does not have (yet). */
  readonly #subjects = new LRUCache<string, { readonly subject: string | null }>({ max: 20_000 });
  readonly #lookups = new Semaphore(SUBJECT_LOOKUPS);
  /**
   * Each target's last run, with the status `updatedAt` it was read under.
   * A run's start and end are recorded before the status they change, so a
   * status that did not change means the last run did not either.
   */
  readonly #lastRuns = new LRUCache<string, { readonly updatedAt: string; readonly run: LastRun | null }>({
    max: 20_000,
  });

  constructor(reconciler: Reconciler) {
    this.#reconciler = reconciler;
  }

  /** The rows of every target, by name, or of the named ones. */
  async rows(only?: readonly string[]): Promise<TargetRow[]> {
    const reconciler = this.#reconciler;
    const statuses: TargetStatus[] = only
      ? await Promise.all(only.map((name) => reconciler.status(name)))
      : await reconciler.statuses();
    const subjects = new Map<string, Promise<string | undefined>>();
    const lastRuns = await Promise.all(statuses.map((status) => this.#lastRun(status)));
    const rows = statuses.map((status, i) => {
      const { name } = status;
      const spec = reconciler.target(name);
      const suspended = isSuspended(status, spec?.suspend ?? false);
      const { state, reason, message } = displayState(status, suspended);
      const revision = status.lastAppliedRevision ?? status.lastAttemptedRevision;
      if (revision && !subjects.has(revision)) subjects.set(revision, this.subject(name, revision));
      const lastRun = lastRuns[i];
      const next = suspended ? undefined : reconciler.nextCheck(name, status);
      const waiting = waitingFor(status);
      const nextDriftCheck = spec && next ? driftCheckDue(status, spec.resyncMs, next) : undefined;
      const behind = isBehind(status, spec?.mode);
      const drift = condition(status, "Drifted");
      const driftUnchecked = drift?.status === "Unknown" ? drift.message : undefined;
      return {
        name,
        state,
        reason,
        message,
        ...(spec ? { mode: spec.mode, repo: spec.repo } : {}),
        ...(nextDriftCheck ? { nextDriftCheck } : {}),
        ...(behind ? { behind } : {}),
        ...(driftUnchecked ? { driftUnchecked } : {}),
        ...(revision ? { revision } : {}),
        ...(lastRun ? { lastRun } : {}),
        ...(next ? { nextCheck: next.toISOString() } : {}),
        ...(waiting ? { waiting } : {}),
      };
    });
    const resolved = new Map<string, string | undefined>();
    for (const [revision, subject] of subjects) resolved.set(revision, await subject);
    const reviews = rows.some((row) => reconciler.target(row.name)?.review)
      ? await reconciler.reviewStacks.listReviewStacks()
      : [];
    return rows.map((row) => {
      const subject = row.revision ? resolved.get(row.revision) : undefined;
      return this.#withReview(subject ? { ...row, subject } : row, reviews);
    });
  }

  /** A review stack's row: its pull request, and `Stalled` while its destroy keeps failing. */
  #withReview(row: TargetRow, records: readonly ReviewStackRecord[]): TargetRow {
    const spec = this.#reconciler.target(row.name);
    const of = spec?.review;
    if (!spec || !of) return row;
    const record = records.find((r) => r.target === of.target && r.number === of.number);
    const url = pullRequestUrl(spec.repo, of.number);
    const review = {
      target: of.target,
      number: of.number,
      stack: spec.stack,
      ...(record ? { state: record.state } : {}),
      ...(url ? { url } : {}),
    };
    if (record?.state !== "stalled") return { ...row, review };
    const message = record.error ?? "the destroy failed";
    return { ...row, review, state: "Stalled", reason: "DestroyFailed", message };
  }

  /** A revision's commit subject from the target's local mirror, cached; `undefined` when unknown. */
  async subject(name: string, revision: string): Promise<string | undefined> {
    const repo = this.#reconciler.target(name)?.repo ?? name;
    const key = `${repo}\n${revision}`;
    const cached = this.#subjects.get(key);
    if (cached) return cached.subject ?? undefined;
    const release = await this.#lookups.acquire();
    try {
      const subject = await this.#reconciler.commitSubject(name, revision).catch(() => undefined);
      this.#subjects.set(
        key,
        { subject: subject ?? null },
        subject === undefined ? { ttl: UNKNOWN_SUBJECT_TTL_MS } : {},
      );
      return subject;
    } finally {
      release();
    }
  }

  async #lastRun(status: TargetStatus): Promise<LastRun | undefined> {
    const cached = this.#lastRuns.get(status.name);
    if (cached && cached.updatedAt === status.updatedAt) return cached.run ?? undefined;
    const last = (await this.#reconciler.history(status.name, 1))[0];
    const run = last
      ? {
          id: last.id,
          result: last.result ?? "running",
          at: last.finishedAt ?? last.startedAt,
          ...(last.finishedAt
            ? { durationMs: Date.parse(last.finishedAt) - Date.parse(last.startedAt) }
            : {}),
        }
      : undefined;
    this.#lastRuns.set(status.name, { updatedAt: status.updatedAt, run: run ?? null });
    return run;
  }
}

/**
 * When the next drift check (refresh and preview of the applied revision) is
 * due: its resync after the last check, at a branch check (checks decide).
 */
function driftCheckDue(status: TargetStatus, resyncMs: number, nextCheck: Date): string {
  const last = status.lastDriftCheckAt ? Date.parse(status.lastDriftCheckAt) : Number.NaN;
  const due = Number.isNaN(last) ? nextCheck.getTime() : Math.max(last + resyncMs, nextCheck.getTime());
  return new Date(due).toISOString();
}

/** Whether Git is ahead of what the target applied: a newer revision seen but not applied (or pending, for detect/preview). */
function isBehind(status: TargetStatus, mode: string | undefined): boolean {
  if (status.pendingChanges) return true;
  const { lastAppliedRevision: applied, lastAttemptedRevision: attempted } = status;
  return mode === "apply" && applied !== undefined && attempted !== undefined && applied !== attempted;
}
