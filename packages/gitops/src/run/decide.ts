/**
 * Pure decisions of a run: whether a revision needs the engine at all, what
 * counts as drift and as changes from Git, whether a plan needs a person's
 * approval, and a plan's identity for pinned approvals.
 */
import { touchesPaths } from "../engine/driftPaths.js";
import type { DriftedResource, Plan } from "../engine/types.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { TargetStatus, Trigger } from "../types.js";
import { sha256, stableJson } from "../util.js";

/** What a run knows when it decides. */
export interface DecideInput {
  readonly target: ResolvedTarget;
  readonly status: TargetStatus;
  readonly revision: string;
  readonly trigger: Trigger;
  readonly force: boolean;
  /** An interrupted run left the stack to recover. */
  readonly needsRecovery: boolean;
  /**
   * The revision is not the applied one but holds the same tree at the
   * target's paths (a revert, a commit elsewhere in the repository): it is
   * as current as the applied one. @default false
   */
  readonly sameTree?: boolean;
  readonly now: number;
}

/**
 * A decision: skip (and why), or run, reporting the trigger that really
 * asked for it. A skip with `sameTree` records the revision as applied: it
 * holds the applied revision's tree, and the target has nothing else to do.
 */
export type Decision =
  | { readonly run: false; readonly why: string; readonly sameTree?: true }
  | {
      readonly run: true;
      readonly trigger: Trigger;
      readonly approved: boolean;
      /** A watch's drift check of the current revision: it may refresh only the changed resources. */
      readonly driftCheck?: true;
    };

/**
 * Identifies what a run of the target does: where the program comes from,
 * the stack, backend, config, environment, mode and policies. Scheduling
 * fields (interval, resync, cron, timeout, windows, suspend) are left out:
 * changing them changes when runs happen, not what they do.
 */
export function specDigest(target: ResolvedTarget): string {
  const { repo, ref, path, stack, program, projectName, backend, secretsProvider, passphrase } = target;
  const { config, secretConfig, env, mode, refresh, gates, auth, requireApproval, dependsOn } = target;
  const what = {
    ...{ repo, ref, path, stack, projectName, backend, secretsProvider, passphrase, config, secretConfig },
    ...{ env, mode, refresh, gates, auth, requireApproval, dependsOn },
    program: program?.toString(),
  };
  return sha256(stableJson(what)).slice(0, 16);
}

/** Whether an unchanged, healthy revision with no resync due can skip the engine. */
export function decide(input: DecideInput): Decision {
  const { target, status, revision, now } = input;
  // A changed spec (a fixed repository URL, new config) is a reason to run, as a new revision is.
  const force = input.force || (status.specDigest !== undefined && status.specDigest !== specDigest(target));
  const approved = status.approvedRevision === revision;
  const resyncDue = !status.lastDriftCheckAt || now - Date.parse(status.lastDriftCheckAt) >= target.resyncMs;
  if (!force && !approved && status.stalledRevision === revision) {
    return { run: false, why: "the revision stalled" };
  }
  // A plan waiting for a person, or for its change window, is not planned
  // again on every check; a new revision, an approval or the window's timer is.
  if (!force && !approved && status.awaitingApproval?.revision === revision) {
    return { run: false, why: "the revision's plan awaits approval" };
  }
  if (
    !force &&
    status.deferredUntil &&
    now < Date.parse(status.deferredUntil) &&
    status.lastAttemptedRevision === revision
  ) {
    return { run: false, why: "the revision waits for its change window" };
  }
  const sameTree =
    target.mode === "apply" && input.sameTree === true && status.lastAppliedRevision !== revision;
  const current =
    target.mode === "apply"
      ? status.lastAppliedRevision === revision || sameTree
      : status.lastAttemptedRevision === revision;
  // Drift found earlier and not put back: the refresh that found it may have
  // kept it in the state, so only an apply puts it back (detect mode reports it).
  const driftToCorrect = target.mode === "apply" && status.unresolvedDrift !== undefined;
  // A cancelled run (a shutdown, a timeout, a caller) left its work undone,
  // and a ref that moved off a stalled revision back to an applied one leaves
  // a stall to clear: the next check runs, whatever the revision.
  const cancelled = status.conditions.some(
    (c) => c.type === "Ready" && c.status === false && c.reason === "Cancelled",
  );
  const leftStall = status.stalledRevision !== undefined && status.stalledRevision !== revision;
  // A revision with the applied tree is recorded without a run only for a
  // target at rest: one that waits (approval, window, dependency) or failed
  // runs, and the run's result clears that.
  const atRest = !sameTree || status.conditions.some((c) => c.type === "Ready" && c.status === true);
  const unfinished = input.needsRecovery || cancelled || leftStall || !atRest;
  if (!force && !approved && current && !unfinished && !driftToCorrect) {
    // A watched object changed: a drift check now, whatever the resync's schedule.
    if (input.trigger === "watch") return { run: true, trigger: "watch", approved, driftCheck: true };
    if (!resyncDue && sameTree)
      return { run: false, why: "the revision has the applied revision's tree", sameTree: true };
    if (!resyncDue) return { run: false, why: "the revision is current and no resync is due" };
    // Only the resync is due: a scheduled check becomes a resync run, and says so.
    const scheduled = input.trigger === "interval" || input.trigger === "startup";
    return { run: true, trigger: scheduled ? "resync" : input.trigger, approved };
  }
  return { run: true, trigger: input.trigger, approved };
}

/**
 * The resources a run found drifted: those refresh found changed whose steps
 * the plan would undo (see {@link driftSteps}); every step's resource when
 * the engine did not say what refresh changed.
 */
export function driftedResources(plan: Plan): DriftedResource[] {
  const drifted = new Set(driftSteps(plan)?.map((s) => s.urn) ?? plan.steps.map((s) => s.urn));
  return (
    plan.drift?.filter((d) => drifted.has(d.urn)) ??
    plan.steps.filter((s) => drifted.has(s.urn)).map((s) => ({ urn: s.urn, type: s.type }))
  );
}

/**
 * The planned steps that undo drift: steps on resources whose live state
 * refresh found different from the recorded state, and — where both the
 * refresh and the step name their properties — that change a property
 * refresh found changed, or a secret of a resource refresh found changed
 * (secrets are masked, so that is all that can be known). A resource whose live state moved but still matches
 * the program (a status field, a server-side default) plans no step; one
 * whose status moved while Git changed another property (a label) plans a
 * Git step: neither is drift. `undefined` when the engine does not report
 * what refresh changed.
 */
export function driftSteps(plan: Plan): Plan["steps"] | undefined {
  if (!plan.drift) return undefined;
  const drifted = new Map(plan.drift.map((d) => [d.urn, d]));
  return plan.steps.filter((step) => {
    const resource = drifted.get(step.urn);
    if (!resource) return false;
    const { paths, secretPaths } = resource;
    const stepPaths = step.diffs?.map((d) => d.path) ?? step.keys;
    // A delete is the program no longer declaring the resource: Git, never drift.
    if (step.op === "delete") return false;
    if (step.op === "create") return true;
    // A masked secret of a resource that changed may be what changed (its value is never known).
    const secretTouched = secretPaths !== undefined && touchesPaths(stepPaths ?? [], secretPaths);
    return !paths || !stepPaths?.length || touchesPaths(stepPaths, paths) || secretTouched;
  });
}

/**
 * The plan with the drift an earlier run found and no run corrected (see
 * `TargetStatus.unresolvedDrift`) added to what this run's refresh found: a
 * refresh that kept the state already holds the live values, so only this
 * record still says the program's values were changed outside Git. Plans of
 * an engine that does not report drift are left as they are.
 */
export function withUnresolvedDrift(plan: Plan, status: TargetStatus): Plan {
  const carried = status.unresolvedDrift?.resources;
  if (!carried?.length || !plan.drift) return plan;
  const found = new Set(plan.drift.map((d) => d.urn));
  return { ...plan, drift: [...plan.drift, ...carried.filter((d) => !found.has(d.urn))] };
}

/**
 * Whether a preview found drift: a planned step undoes a change refresh
 * found in the live resources, whatever the revisions. An engine that does
 * not report what refresh changed (`plan.drift` absent) falls back to
 * "changes to a revision already applied".
 */
export function isDrift(plan: Plan, status: TargetStatus, revision: string): boolean {
  const steps = driftSteps(plan);
  if (steps) return steps.length > 0;
  return plan.changes && status.lastAppliedRevision === revision;
}

/** Steps on resources that did not drift (all steps when the engine does not say what drifted). */
function undriftedChanges(plan: Plan): boolean {
  return plan.changes && (driftSteps(plan)?.length ?? 0) < plan.steps.length;
}

/**
 * Whether a plan holds changes that come from Git rather than from drift:
 * steps on resources that did not drift, while the revision is not the one
 * applied (a target that never applies never has). A step on a drifted
 * resource counts as drift, even when Git changed it too.
 */
export function hasGitChanges(plan: Plan, status: TargetStatus, revision: string): boolean {
  return undriftedChanges(plan) && status.lastAppliedRevision !== revision;
}

/**
 * Whether a plan changes resources that did not drift although the revision
 * is the one applied: the target's config or environment, or its
 * dependencies' outputs, changed (not drift, not Git).
 */
export function hasConfigChanges(plan: Plan, status: TargetStatus, revision: string): boolean {
  return Boolean(plan.drift) && undriftedChanges(plan) && status.lastAppliedRevision === revision;
}

/** Whether a plan must wait for a person under the target's `requireApproval`. */
export function needsApproval(policy: ResolvedTarget["requireApproval"], plan: Plan): boolean {
  if (policy === "always") return plan.changes;
  if (policy === "destructive") return plan.counts.delete + plan.counts.replace > 0;
  return false;
}

/** Identifies a plan by its steps, so an approval applies only the plan a person saw. */
export function planDigest(plan: Plan): string {
  const steps = plan.steps.map((s) => `${s.op} ${s.urn}`).sort();
  return sha256(steps.join("\n")).slice(0, 16);
}
