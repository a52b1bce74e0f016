/**
 * Pure status transitions: conditions, the "waiting" reasons, suspension and
 * what a finished run does to a target's status. Nothing here writes; the
 * caller stores the result through its one status writer (`recorder.ts`).
 */

import type { StallReason } from "../errors.js";
import type { ReconcilerEvents } from "../events.js";
import type {
  Condition,
  ConditionStatus,
  ConditionType,
  PendingApproval,
  RunRecord,
  TargetStatus,
  UnresolvedDrift,
} from "../types.js";
import { formatCounts } from "../util.js";

/** Ready=False reasons that mean "waiting", not "broken": leaving them is no recovery. */
export const WAITING_REASONS: ReadonlySet<string> = new Set([
  "Pending",
  "DependencyNotReady",
  "OutsideChangeWindow",
  "AwaitingApproval",
]);

/** Sets one condition; `since` moves only when its status flips. */
export function setCondition(
  conditions: readonly Condition[],
  type: ConditionType,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: Date = new Date(),
): Condition[] {
  const previous = conditions.find((c) => c.type === type);
  const since = previous && previous.status === status ? previous.since : now.toISOString();
  return [...conditions.filter((c) => c.type !== type), { type, status, reason, message, since }];
}

/** A target's condition of one type. */
export function condition(status: TargetStatus, type: ConditionType): Condition | undefined {
  return status.conditions.find((c) => c.type === type);
}

/** Whether scheduled runs are suspended: the Suspended condition, else the spec's `suspend`. */
export function isSuspended(status: TargetStatus | undefined, specSuspend: boolean): boolean {
  const suspended = status ? condition(status, "Suspended") : undefined;
  return suspended ? suspended.status === true : specSuspend;
}

/** The status of a target never seen before. */
export function initialStatus(name: string, now: Date): TargetStatus {
  return { name, conditions: [], updatedAt: now.toISOString() };
}

/** Suspends or resumes scheduled runs; who and why, when given, go into the condition and `suspension`. */
export function suspendedStatus(
  before: TargetStatus,
  suspended: boolean,
  now: Date,
  who: { readonly by: string; readonly reason: string; readonly onBehalfOf?: string } | undefined = undefined,
): TargetStatus {
  const what = suspended ? "scheduled runs are suspended" : "scheduled runs resumed";
  return {
    ...before,
    conditions: setCondition(
      before.conditions,
      "Suspended",
      suspended,
      suspended ? "Suspended" : "Resumed",
      who ? `${what} by ${who.by}${who.onBehalfOf ? ` for ${who.onBehalfOf}` : ""}: ${who.reason}` : what,
      now,
    ),
    suspension: { suspended, at: now.toISOString(), ...(who ?? {}) },
    updatedAt: now.toISOString(),
  };
}

/** A run started. */
export function startedStatus(before: TargetStatus, runId: string, now: Date): TargetStatus {
  return {
    ...before,
    conditions: setCondition(
      before.conditions,
      "Reconciling",
      true,
      "Progressing",
      `run ${runId} in progress`,
      now,
    ),
    updatedAt: now.toISOString(),
  };
}

/**
 * A run found drift: recorded at once, before the run goes on, so that it
 * holds whatever happens to the run (cancelled, interrupted, failed) until a
 * run puts it back or Git adopts it.
 */
export function driftFoundStatus(before: TargetStatus, drift: UnresolvedDrift, now: Date): TargetStatus {
  return {
    ...before,
    conditions: setCondition(
      before.conditions,
      "Drifted",
      true,
      "DriftDetected",
      `drift found by run ${drift.runId}: ${formatCounts(drift.counts)}`,
      now,
    ),
    unresolvedDrift: drift,
    updatedAt: now.toISOString(),
  };
}

/**
 * A revision that holds the applied revision's tree at the target's paths,
 * recorded as applied without a run (the target was Ready and no resync was
 * due): Ready at the new revision, whose program is the one applied before
 * (see `TargetStatus.programRevision`).
 */
export function sameTreeStatus(
  before: TargetStatus,
  revision: string,
  now: Date,
): { status: TargetStatus; events: StatusEvent[] } {
  const applied = before.lastAppliedRevision as string;
  const at = now.toISOString();
  return {
    status: {
      ...before,
      conditions: setCondition(
        before.conditions,
        "Ready",
        true,
        "Applied",
        `applied revision ${revision}: the same tree as revision ${applied}, applied before`,
        now,
      ),
      lastAttemptedRevision: revision,
      lastAppliedRevision: revision,
      // Nothing new runs: a promotion's soak goes on counting from when the tree was applied.
      revisionAppliedAt: before.revisionAppliedAt ?? at,
      programRevision: programOf(before) as string,
      updatedAt: at,
    },
    events: [{ name: "revision.applied", payload: { target: before.name, revision } }],
  };
}

/** The commit the applied program runs as: {@link TargetStatus.programRevision}, or the applied revision. */
function programOf(status: TargetStatus): string | undefined {
  return status.programRevision ?? status.lastAppliedRevision;
}

/** A run waits for a dependency; not a failure. */
export function deferredStatus(before: TargetStatus, reason: string, now: Date): TargetStatus {
  return {
    ...before,
    conditions: setCondition(before.conditions, "Ready", false, "DependencyNotReady", reason, now),
    updatedAt: now.toISOString(),
  };
}

/** What a finished run leaves behind, besides its record. */
export interface RunOutcome {
  readonly run: RunRecord;
  /** Why a `stalled` run stalled. */
  readonly stallReason?: StallReason;
  /** Outputs of an `up`. */
  readonly outputs?: Readonly<Record<string, unknown>>;
  /** Digest of the dependency outputs passed as config. */
  readonly depsDigest?: string;
  /** The plan held for approval by an `awaiting-approval` run. */
  readonly approval?: PendingApproval;
  /** When the change window opens for a `deferred` run. */
  readonly windowOpensAt?: Date;
  /** Whether the plan holds changes from Git not applied yet (besides any drift). */
  readonly changesPending?: boolean;
  /** Whether the target's mode applies (`apply`); detect and preview runs never record an applied revision. */
  readonly applies?: boolean;
  /** Digest of the spec the run ran with (see `specDigest`). */
  readonly specDigest?: string;
  /** The commit the program ran as, when not the run's revision (see `TargetStatus.programRevision`). */
  readonly programRevision?: string;
  /** A watch's drift check of a few resources: not a full drift check, so `lastDriftCheckAt` stays. */
  readonly targeted?: boolean;
  /** The run's preview refreshed and said what drifted (`Plan.drift`): whether it found drift is known. */
  readonly driftChecked?: boolean;
}

/** An event to emit once the status is stored. */
export type StatusEvent = {
  [K in keyof ReconcilerEvents]: { readonly name: K; readonly payload: ReconcilerEvents[K] };
}[keyof ReconcilerEvents];

/**
 * The status after a run, the events its transitions emit and the plan files
 * no longer needed. Pure: the caller stores, emits and deletes.
 */
export function finishStatus(
  before: TargetStatus,
  outcome: RunOutcome,
  nowDate: Date,
): { status: TargetStatus; events: StatusEvent[]; filesToDelete: string[] } {
  const { run } = outcome;
  const name = before.name;
  const now = nowDate.toISOString();
  const events: StatusEvent[] = [];
  const filesToDelete: string[] = [];
  const set: SetCondition = (cs, type, status, reason, message) =>
    setCondition(cs, type, status, reason, message, nowDate);
  let conditions = before.conditions;
  // A run ran: the retry it was (or that waited) is done; a failure schedules the next.
  const { retryAt: _r, ...kept } = before;
  let next: TargetStatus = {
    ...kept,
    ...(outcome.outputs ? { outputs: outcome.outputs } : {}),
    ...(outcome.specDigest ? { specDigest: outcome.specDigest } : {}),
  };
  const revision = run.revision;
  const wasUnhealthy = conditions.some(
    (c) =>
      (c.type === "Stalled" && c.status === true) ||
      (c.type === "Ready" && c.status === false && !WAITING_REASONS.has(c.reason)),
  );
  if (revision) next = { ...next, lastAttemptedRevision: revision };
  // A detect or preview target found nothing to change: in sync, yet it applied nothing.
  const applies = outcome.applies !== false;
  const result = run.result;
  switch (result) {
    case "applied":
    case "drift-corrected":
    case "unchanged": {
      conditions = applies
        ? set(conditions, "Ready", true, "Applied", `applied revision ${revision}`)
        : set(conditions, "Ready", true, "UpToDate", `revision ${revision} has nothing to apply`);
      conditions = set(conditions, "Stalled", false, applies ? "Applied" : "UpToDate", "");
      conditions = set(conditions, "Drifted", false, "InSync", "infrastructure matches the revision");
      const {
        stalledRevision: _s,
        approvedRevision: _a,
        approvedBy: _b,
        awaitingApproval: held,
        deferredUntil: _d,
        pendingChanges: _p,
        unresolvedDrift: _u,
        programRevision: _pr,
        ...rest
      } = next;
      if (held?.planFile) filesToDelete.push(held.planFile);
      if (!applies) {
        next = { ...rest, lastDriftCheckAt: now };
        if (wasUnhealthy)
          events.push({ name: "recovered", payload: { target: name, revision: revision as string } });
        break;
      }
      const program = outcome.programRevision;
      next = {
        ...rest,
        lastAppliedRevision: revision as string,
        lastDriftCheckAt: now,
        ...(outcome.depsDigest ? { appliedDepsDigest: outcome.depsDigest } : {}),
        ...(program && program !== revision ? { programRevision: program } : {}),
      };
      // A revision with the applied tree (its program is the one applied before) runs what has been
      // running since then: a promotion's soak goes on counting from when that was applied.
      const sameTree =
        program !== undefined &&
        program !== revision &&
        program === programOf(before) &&
        before.revisionAppliedAt;
      if ((before.lastAppliedRevision !== revision || !before.revisionAppliedAt) && !sameTree) {
        next = { ...next, revisionAppliedAt: now };
      }
      if (before.lastAppliedRevision !== revision || run.result !== "unchanged") {
        next = { ...next, lastAppliedAt: now };
      }
      if (before.lastAppliedRevision !== revision) {
        events.push({ name: "revision.applied", payload: { target: name, revision: revision as string } });
      }
      if (wasUnhealthy)
        events.push({ name: "recovered", payload: { target: name, revision: revision as string } });
      break;
    }
    case "drift-detected":
    case "planned": {
      // Detect and preview modes never apply: drift (live state differs from
      // the recorded state) and changes Git holds that are not applied are
      // reported apart.
      conditions = run.drift
        ? set(conditions, "Drifted", true, "DriftDetected", `drift found: ${formatCounts(run.counts)}`)
        : set(conditions, "Drifted", false, "InSync", "live state matches the recorded state");
      if (result === "planned" || outcome.changesPending) {
        conditions = set(
          conditions,
          "Ready",
          true,
          outcome.changesPending ? "ChangesPending" : "Planned",
          outcome.changesPending
            ? `Git has changes not yet applied at revision ${revision}`
            : `planned revision ${revision}`,
        );
      }
      // Drift this run found stays recorded (see `driftFoundStatus`); none found, none left.
      const { pendingChanges: _p, unresolvedDrift: found, ...rest } = next;
      next = {
        ...rest,
        ...(run.drift && found ? { unresolvedDrift: found } : {}),
        lastDriftCheckAt: now,
        ...(outcome.changesPending && revision ? { pendingChanges: { revision } } : {}),
      };
      break;
    }
    case "stalled": {
      const reason = outcome.stallReason ?? "ProgramFailed";
      conditions = driftAfterUnfinishedRun(conditions, before, run, set);
      conditions = set(conditions, "Stalled", true, reason, run.error ?? "");
      conditions = set(conditions, "Ready", false, reason, run.error ?? "");
      const { approvedRevision: _a, approvedBy: _b, ...rest } = next;
      next = { ...rest, ...(revision ? { stalledRevision: revision } : {}) };
      events.push({
        name: "stalled",
        payload: { target: name, ...(revision ? { revision } : {}), reason, message: run.error ?? "" },
      });
      break;
    }
    case "deferred": {
      ({ conditions, next } = driftAfterHeldRun(conditions, next, outcome, set));
      const opensAt = outcome.windowOpensAt?.toISOString();
      conditions = set(
        conditions,
        "Ready",
        false,
        "OutsideChangeWindow",
        `revision ${revision} waits for its change window${opensAt ? `, which opens at ${opensAt}` : ""}`,
      );
      const { deferredUntil: _d, ...rest } = next;
      next = { ...rest, ...(opensAt ? { deferredUntil: opensAt } : {}) };
      break;
    }
    case "awaiting-approval":
      ({ conditions, next } = driftAfterHeldRun(conditions, next, outcome, set));
      conditions = set(
        conditions,
        "Ready",
        false,
        "AwaitingApproval",
        `revision ${revision} waits for approval: ${formatCounts(run.counts)}`,
      );
      if (outcome.approval) {
        const { approvedRevision: _a, approvedBy: _b, ...rest } = next;
        const replaced = before.awaitingApproval?.planFile;
        if (replaced && replaced !== outcome.approval.planFile) filesToDelete.push(replaced);
        next = { ...rest, awaitingApproval: outcome.approval };
      }
      break;
    case "failed":
    case "cancelled":
      conditions = driftAfterUnfinishedRun(conditions, before, run, set);
      conditions = set(
        conditions,
        "Ready",
        false,
        result === "failed" ? "Failed" : "Cancelled",
        run.error ?? "",
      );
      break;
    default:
      break;
  }
  conditions = set(conditions, "Reconciling", false, "Idle", "");
  if (outcome.targeted) {
    const { lastDriftCheckAt: _l, ...rest } = next;
    next = before.lastDriftCheckAt ? { ...rest, lastDriftCheckAt: before.lastDriftCheckAt } : rest;
  }
  return { status: { ...next, conditions, updatedAt: now }, events, filesToDelete };
}

/** `Drifted` reason while its status is `"Unknown"`: no drift check completed since the time in its message. */
export const DRIFT_NOT_CHECKED = "NotChecked";

type SetCondition = (
  cs: readonly Condition[],
  type: ConditionType,
  status: ConditionStatus,
  reason: string,
  message: string,
) => Condition[];

/**
 * `Drifted` after a run whose plan waits (for approval, for its change
 * window): drift its preview found is recorded already (`driftFoundStatus`);
 * a preview that refreshed and found none says the target is in sync now,
 * whatever was found or unknown before. A run that waited before its preview
 * (a dependency not ready) or did not refresh changes nothing.
 */
function driftAfterHeldRun(
  conditions: readonly Condition[],
  next: TargetStatus,
  outcome: RunOutcome,
  set: SetCondition,
): { conditions: Condition[]; next: TargetStatus } {
  if (!outcome.driftChecked || outcome.run.drift || outcome.targeted)
    return { conditions: [...conditions], next };
  const { unresolvedDrift: _u, ...rest } = next;
  return {
    conditions: set(conditions, "Drifted", false, "InSync", "live state matches the recorded state"),
    next: rest,
  };
}

/**
 * The Drifted condition after a run that ended before it applied or
 * reported (failed, stalled, cancelled): drift it found, or found before and
 * not put back, stays found; a run whose preview finished checked; one that
 * ended before (a program that does not run, an unreachable repository, a
 * cancel) checked nothing, so whether the target drifted is `"Unknown"`
 * (reason `NotChecked`) since the last check.
 */
function driftAfterUnfinishedRun(
  conditions: readonly Condition[],
  before: TargetStatus,
  run: RunRecord,
  set: SetCondition,
): Condition[] {
  const drifted = conditions.find((c) => c.type === "Drifted")?.status === true;
  if (run.drift && !drifted)
    return set(
      conditions,
      "Drifted",
      true,
      "DriftDetected",
      `drift found by run ${run.id}: ${formatCounts(run.counts)}`,
    );
  if (run.drift || drifted) return [...conditions];
  if (run.counts) return set(conditions, "Drifted", false, "InSync", "live state matches the recorded state");
  const since = before.lastDriftCheckAt;
  const why = `run ${run.id} ended before its preview finished`;
  return set(
    conditions,
    "Drifted",
    "Unknown",
    DRIFT_NOT_CHECKED,
    since ? `not checked since ${since}: ${why}` : `never checked: ${why}`,
  );
}
