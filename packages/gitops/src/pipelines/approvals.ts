/**
 * A person's decisions on a target: releasing a plan held for approval, or a
 * revision a safety gate refused or whose ref was rewritten, and suspending or
 * resuming its scheduled runs, each recording who and why.
 */
import { NothingToApproveError, SpecError } from "../errors.js";
import type { ApprovalRequest, SuspendRequest } from "../options.js";
import { suspendedStatus } from "../run/status.js";
import type { Runtime } from "../schedule/runtime.js";
import type { TargetStatus } from "../types.js";
import { isShaPrefix } from "../util.js";
import { checkWho } from "./promotion.js";

/**
 * The one rule for approvals that come through a surface — the HTTP API, the
 * dashboard, the CLI: an approval says why, in a `reason` that is not blank
 * (and, as everywhere, `by` goes with it). Programs embedding the library may
 * approve without (`Reconciler.approve(name)`).
 * @throws SpecError naming `reason`
 */
export function checkApprovalRequest(
  name: string,
  request: {
    readonly revision?: unknown;
    readonly by?: unknown;
    readonly reason?: unknown;
    readonly onBehalfOf?: unknown;
  },
): ApprovalRequest {
  const { revision, by, reason, onBehalfOf } = request;
  if (typeof reason !== "string" || reason.trim() === "") {
    throw new SpecError(`approval of "${name}"`, [
      { path: "reason", message: `must say why the plan is approved, got ${JSON.stringify(reason ?? null)}` },
    ]);
  }
  return {
    ...(revision !== undefined ? { revision: revision as string } : {}),
    ...(by !== undefined ? { by: by as string } : {}),
    ...(typeof onBehalfOf === "string" ? { onBehalfOf } : {}),
    reason,
  };
}

/**
 * Marks the revision waiting for approval (or the one named, which must be
 * the one waiting) as approved, with who and why when given; the next run
 * applies it. With `checkOnly`, only checks that something waits (a replica
 * forwarding the approval to the owner).
 * @throws NothingToApproveError when no plan awaits approval and no revision stalled
 * @throws SpecError for a malformed revision, or `by` without `reason` (or the reverse)
 */
export async function recordApproval(
  rt: Runtime,
  name: string,
  request: ApprovalRequest,
  checkOnly = false,
): Promise<string> {
  const { revision, by, reason, onBehalfOf } = request;
  if (revision !== undefined && (typeof revision !== "string" || !isShaPrefix(revision))) {
    throw new SpecError(`approval of "${name}"`, [
      {
        path: "revision",
        message: `must be a commit SHA or a prefix of one, got ${JSON.stringify(revision)}`,
      },
    ]);
  }
  const who =
    by !== undefined || reason !== undefined
      ? checkWho(`approval of "${name}"`, "by", { by, reason, onBehalfOf })
      : undefined;
  const status = rt.recorder.status(name);
  const held = [status.awaitingApproval?.revision, status.stalledRevision].filter((r) => r !== undefined);
  const waiting = revision === undefined ? held[0] : held.find((r) => r.startsWith(revision));
  // Approving releases something held back; with nothing held there is
  // nothing to release (a forced run is `reconcile`, not `approve`).
  if (!waiting) throw new NothingToApproveError(name, revision);
  if (checkOnly) return waiting;
  await rt.recorder.updateStatus(name, ({ approvedBy: _b, ...before }) => ({
    ...before,
    approvedRevision: waiting,
    ...(who ? { approvedBy: who } : {}),
    updatedAt: rt.recorder.now().toISOString(),
  }));
  rt.options.logger.info({ target: name, revision: waiting, ...(who ?? {}) }, "approved");
  return waiting;
}

/**
 * Suspends or resumes a target's scheduled runs, with who and why when given
 * (in its `Suspended` condition and `suspension`).
 * @throws SpecError for `by` without `reason` (or the reverse)
 */
export async function recordSuspension(
  rt: Runtime,
  name: string,
  suspended: boolean,
  { by, reason, onBehalfOf }: SuspendRequest,
): Promise<TargetStatus> {
  const subject = `${suspended ? "suspension" : "resumption"} of "${name}"`;
  const who =
    by !== undefined || reason !== undefined
      ? checkWho(subject, "by", { by, reason, onBehalfOf })
      : undefined;
  const status = await rt.recorder.updateStatus(name, (before) =>
    suspendedStatus(before, suspended, rt.recorder.now(), who),
  );
  rt.options.logger.info({ target: name, ...(who ?? {}) }, suspended ? "suspended" : "resumed");
  return status;
}
