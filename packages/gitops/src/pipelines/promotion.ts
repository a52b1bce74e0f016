// Environment promotion: validation of `promote`, the soak-time rule and
// manual requests. The reconciler records and applies what these decide.
import { combineSpecErrors, SpecError } from "../errors.js";
import { sameRepo } from "../git/repo.js";
import { publicRepoUrl } from "../spec/secrets.js";
import type { ResolvedPromotion, ResolvedTarget } from "../spec/spec.js";
import type { ConditionType, TargetStatus } from "../types.js";
import { isShaPrefix } from "../util.js";

/** Who asks for a manual promotion or rollback, and why; both are recorded. */
export interface PromotionRequest {
  /** Revision (full SHA or a unique prefix). @default - see the method */
  readonly revision?: string;
  readonly by: string;
  readonly reason: string;
  /** The person an admin asks for (`by` is the admin). */
  readonly onBehalfOf?: string;
}

/**
 * Checks that a request says who (`by`) and why (`reason`), both non-empty.
 * @throws SpecError naming `field` and echoing the value
 */
export function checkWho(
  subject: string,
  field: string,
  who: { readonly by?: unknown; readonly reason?: unknown; readonly onBehalfOf?: unknown },
): { by: string; reason: string; onBehalfOf?: string } {
  if (
    typeof who?.by !== "string" ||
    who.by.trim() === "" ||
    typeof who.reason !== "string" ||
    who.reason.trim() === ""
  ) {
    throw new SpecError(subject, [
      { path: field, message: `must say who (\`by\`) and why (\`reason\`), got ${JSON.stringify(who)}` },
    ]);
  }
  return { by: who.by, reason: who.reason, ...onBehalf(who) };
}

/** Checks a manual promotion or rollback request: who, why and a well-formed revision. */
/** `onBehalfOf` when it names someone. */
function onBehalf(who: { readonly onBehalfOf?: unknown }): { onBehalfOf?: string } {
  return typeof who.onBehalfOf === "string" && who.onBehalfOf.trim() !== ""
    ? { onBehalfOf: who.onBehalfOf }
    : {};
}

export function checkRequester(
  subject: string,
  options: PromotionRequest,
): { by: string; reason: string; onBehalfOf?: string } {
  const issues = [
    ...(typeof options?.by === "string" && options.by.trim() !== ""
      ? []
      : [{ path: "by", message: `must say who asks, got ${JSON.stringify(options?.by)}` }]),
    ...(typeof options?.reason === "string" && options.reason.trim() !== ""
      ? []
      : [{ path: "reason", message: `must say why, got ${JSON.stringify(options?.reason)}` }]),
    ...(options?.revision === undefined || isShaPrefix(options.revision)
      ? []
      : [
          {
            path: "revision",
            message: `must be a commit SHA or a prefix of one, got ${JSON.stringify(options.revision)}`,
          },
        ]),
  ];
  if (issues.length > 0) throw new SpecError(subject, issues);
  return { by: options.by, reason: options.reason, ...onBehalf(options) };
}

/** What orders a target after another: its dependencies and the target it promotes from. */
export function ordering(target: ResolvedTarget): readonly string[] {
  return target.promote && !target.dependsOn.includes(target.promote.from)
    ? [...target.dependsOn, target.promote.from]
    : target.dependsOn;
}

/** `promote.from` must name another known target of the same repository. */
export function checkPromotions(targets: ReadonlyMap<string, ResolvedTarget>): void {
  const [first, ...more] = promotionErrors(targets);
  if (first) throw combineSpecErrors([first, ...more]);
}

/**
 * Every target whose `promote.from` is wrong, one error each.
 * @param names - names of targets left out of `targets` (invalid specs): not unknown
 */
export function promotionErrors(
  targets: ReadonlyMap<string, ResolvedTarget>,
  names: readonly string[] = [],
): SpecError[] {
  const errors: SpecError[] = [];
  for (const target of targets.values()) {
    if (!target.promote) continue;
    const { from } = target.promote;
    const upstream = targets.get(from);
    if (!upstream && names.includes(from)) continue;
    const problem =
      from === target.name
        ? "names the target itself"
        : !upstream
          ? `names an unknown target (known: ${[...new Set([...targets.keys(), ...names])].sort().join(", ")})`
          : !sameRepo(upstream.repo, target.repo)
            ? `names a target of another repository (${publicRepoUrl(upstream.repo)})`
            : undefined;
    if (problem) {
      errors.push(
        new SpecError(`target "${target.name}"`, [
          { path: "promote.from", message: `${problem}, got ${JSON.stringify(from)}` },
        ]),
      );
    }
  }
  return errors;
}

/**
 * When the upstream's last applied revision is due for promotion: the soak
 * time after it was applied, and with `requireHealthy` after the upstream was
 * last seen becoming Ready; or what it waits for instead.
 */
export function soak(
  policy: ResolvedPromotion,
  upstream: TargetStatus,
): { dueAt: number } | { waitingFor: string } {
  const appliedAt = Date.parse(upstream.revisionAppliedAt ?? upstream.lastAppliedAt ?? "");
  if (Number.isNaN(appliedAt)) return { waitingFor: `"${policy.from}" has not applied a revision yet` };
  if (!policy.requireHealthy) return { dueAt: appliedAt + policy.afterMs };
  const condition = (type: ConditionType) => upstream.conditions.find((c) => c.type === type);
  const ready = condition("Ready");
  if (ready?.status !== true) {
    return { waitingFor: `"${policy.from}" is not ready (${ready?.reason ?? "never applied"})` };
  }
  // Drift not checked since a run that ended early (`"Unknown"`) is not drift found.
  for (const type of ["Stalled", "Drifted"] as const) {
    if (condition(type)?.status === true) return { waitingFor: `"${policy.from}" is ${type.toLowerCase()}` };
  }
  return { dueAt: Math.max(appliedAt, Date.parse(ready.since)) + policy.afterMs };
}
