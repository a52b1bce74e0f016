/**
 * Promotions between targets: the revision a target with `promote` should be
 * at (soaked upstream revisions promoted automatically), manual promotions
 * and rollbacks, and the promotion log.
 */
import { randomUUID } from "node:crypto";
import { DriftlessError } from "../errors.js";
import type { Runtime } from "../schedule/runtime.js";
import type { ResolvedPromotion, ResolvedTarget } from "../spec/spec.js";
import type { PendingPromotion, PromotionKind, PromotionRecord } from "../types.js";
import { stableJson } from "../util.js";
import { checkRequester, type PromotionRequest, soak } from "./promotion.js";

/**
 * The revision a target with `promote` should be at. Promotes the upstream's
 * last applied revision first when it has soaked long enough and is not the
 * one rolled back from; otherwise notes when it will be due. `revision` is
 * `undefined` before the first promotion.
 */
export async function promotedRevision(
  rt: Runtime,
  target: ResolvedTarget,
): Promise<{ revision: string | undefined; dueAt?: Date }> {
  const policy = target.promote as ResolvedPromotion;
  const status = rt.recorder.status(target.name);
  const upstream = rt.recorder.status(policy.from);
  const candidate = upstream.lastAppliedRevision;
  let waiting: PendingPromotion | undefined;
  let dueAt: Date | undefined;
  if (candidate && candidate !== status.promotedRevision && candidate !== status.heldBackRevision) {
    const due = soak(policy, upstream);
    if ("dueAt" in due && due.dueAt <= rt.options.clock.now()) {
      await recordPromotion(rt, target.name, policy.from, candidate, "auto");
    } else {
      waiting = {
        revision: candidate,
        ...("dueAt" in due ? { dueAt: new Date(due.dueAt).toISOString() } : { waitingFor: due.waitingFor }),
      };
      if ("dueAt" in due) dueAt = new Date(due.dueAt);
    }
  }
  const latest = rt.recorder.status(target.name);
  if (stableJson(latest.pendingPromotion) !== stableJson(waiting)) {
    await rt.recorder.updateStatus(target.name, ({ pendingPromotion: _p, ...rest }) => ({
      ...rest,
      ...(waiting ? { pendingPromotion: waiting } : {}),
      updatedAt: rt.recorder.now().toISOString(),
    }));
  }
  return { revision: rt.recorder.status(target.name).promotedRevision, ...(dueAt ? { dueAt } : {}) };
}

/** Logs a promotion or rollback and points the target at the revision. */
export async function recordPromotion(
  rt: Runtime,
  name: string,
  source: string,
  revision: string,
  kind: PromotionKind,
  who?: { by: string; reason: string; onBehalfOf?: string },
): Promise<void> {
  const status = rt.recorder.status(name);
  const promotion: PromotionRecord = {
    id: randomUUID(),
    target: name,
    source,
    revision,
    ...(status.lastAppliedRevision ? { previousRevision: status.lastAppliedRevision } : {}),
    kind,
    ...(who ?? {}),
    at: rt.recorder.now().toISOString(),
  };
  await rt.options.store.recordPromotion(promotion);
  const heldBack =
    kind === "rollback"
      ? status.lastAppliedRevision
      : kind === "auto" && status.heldBackRevision !== revision
        ? status.heldBackRevision
        : undefined;
  await rt.recorder.updateStatus(name, ({ heldBackRevision: _h, pendingPromotion: _p, ...rest }) => ({
    ...rest,
    promotedRevision: revision,
    ...(heldBack ? { heldBackRevision: heldBack } : {}),
    updatedAt: promotion.at,
  }));
  rt.options.logger.info(
    { target: name, revision, kind, from: source, ...(who ?? {}) },
    `${kind === "rollback" ? "rolled back" : "promoted"} to ${revision.slice(0, 12)}`,
  );
  rt.events.emit("promoted", promotion);
}

const shortList = (revisions: readonly string[]) =>
  revisions
    .slice(0, 5)
    .map((r) => r.slice(0, 12))
    .join(", ") || "none";

/**
 * The one revision the upstream applied that `revision` (a SHA or prefix)
 * names, else the upstream's last applied revision.
 * @throws DriftlessError when none or several match
 */
export async function promotableRevision(
  rt: Runtime,
  name: string,
  from: string,
  revision?: string,
): Promise<string> {
  const wanted = revision ?? rt.recorder.status(from).lastAppliedRevision;
  if (!wanted) throw new DriftlessError(`target "${from}" has not applied a revision yet`);
  const applied = await rt.options.store.appliedRevisions(from, 1000);
  const match = applied.filter((r) => r.startsWith(wanted));
  if (match.length !== 1) {
    throw new DriftlessError(
      `cannot promote revision ${JSON.stringify(wanted)} to "${name}": ${
        match.length === 0
          ? `"${from}" never applied it successfully`
          : `it matches ${match.length} revisions "${from}" applied; give more of the SHA`
      } (recent: ${shortList(applied)})`,
    );
  }
  return match[0] as string;
}

/**
 * The revision a rollback returns to: the one `revision` names among those
 * the target applied, else the one it applied before the current one.
 * @throws DriftlessError when none or several match
 */
export async function rollbackRevision(rt: Runtime, name: string, revision?: string): Promise<string> {
  const current = rt.recorder.status(name).lastAppliedRevision;
  const applied = await rt.options.store.appliedRevisions(name, 1000);
  const candidates = revision
    ? applied.filter((r) => r.startsWith(revision))
    : applied.filter((r) => r !== current).slice(0, 1);
  if (candidates.length !== 1) {
    throw new DriftlessError(
      `cannot roll "${name}" back${revision ? ` to ${JSON.stringify(revision)}` : ""}: ${
        candidates.length === 0
          ? revision
            ? "it never applied that revision successfully"
            : "it has applied no other revision"
          : `${candidates.length} revisions match; give more of the SHA`
      } (applied: ${shortList(applied)})`,
    );
  }
  return candidates[0] as string;
}

/**
 * Records a manual promotion of `target` (one with `promote`) to a revision
 * its upstream applied; the caller queues the run that applies it. With
 * `checkOnly`, only checks the request (a replica forwarding it to the owner).
 * @throws DriftlessError for a target without `promote`, a request without who/why, or a revision the upstream never applied
 */
export async function promoteNow(
  rt: Runtime,
  target: ResolvedTarget,
  request: PromotionRequest,
  checkOnly = false,
): Promise<void> {
  const policy = target.promote;
  if (!policy) {
    throw new DriftlessError(
      `target "${target.name}" has no \`promote\` policy; it applies its own ref "${target.ref}"`,
    );
  }
  const who = checkRequester(`promotion of "${target.name}"`, request);
  const revision = await promotableRevision(rt, target.name, policy.from, request.revision);
  if (!checkOnly) await recordPromotion(rt, target.name, policy.from, revision, "manual", who);
}

/**
 * Records a rollback of `target` (one with `promote`) to a revision it applied
 * before; the caller queues the run that applies it. With `checkOnly`, only
 * checks the request.
 * @throws DriftlessError for a target without `promote`, a request without who/why, or a revision it never applied
 */
export async function rollBackNow(
  rt: Runtime,
  target: ResolvedTarget,
  request: PromotionRequest,
  checkOnly = false,
): Promise<void> {
  if (!target.promote) {
    throw new DriftlessError(
      `target "${target.name}" follows its ref "${target.ref}"; roll it back with \`git revert\` (rollback moves targets with \`promote\`)`,
    );
  }
  const who = checkRequester(`rollback of "${target.name}"`, request);
  const revision = await rollbackRevision(rt, target.name, request.revision);
  if (!checkOnly) await recordPromotion(rt, target.name, target.name, revision, "rollback", who);
}
