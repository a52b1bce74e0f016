/**
 * The steps of a run before it takes a lease: which revision to run, whether
 * it needs the engine at all, and whether its dependencies let it. Part of
 * `RECONCILE_STEPS` (see `../steps.ts`); each may stop the run.
 */
import { blockingDependency, dependencyBehind } from "../../pipelines/dependencies.js";
import { promotedRevision } from "../../pipelines/promotions.js";
import { decide as decideRun } from "../decide.js";
import type { RunContext, Step, Stop } from "../run.js";

const stop = (result: Stop["stop"]): Stop => ({ stop: result });

/**
 * One round trip to learn the ref's commit. Scheduled checks share a recent
 * answer for the same repository and ref; pushes and people do not. A
 * promoted target takes its revision from its upstream instead. A push that
 * names its commit needs no round trip: `checkout` fetches the ref and keeps
 * that commit only if the ref points at it.
 */
export const resolveRevision: Step = async (ctx) => {
  const { target, rt } = ctx;
  let revision: string | undefined;
  if (target.promote && !ctx.ephemeral) {
    const promoted = await promotedRevision(rt, target);
    if (promoted.dueAt) ctx.promotionDueAt = promoted.dueAt;
    ctx.status = rt.recorder.status(target.name);
    revision = promoted.revision;
  } else if (pushedRevision(ctx)) {
    revision = ctx.run.pushed;
  } else {
    const shared = ["interval", "startup", "schedule"].includes(ctx.run.trigger);
    revision = await rt.options.source.resolve(
      { repo: target.repo, ref: target.ref, auth: target.auth },
      shared ? { maxAgeMs: Math.min(5000, target.intervalMs / 10) } : {},
    );
  }
  if (revision === undefined) return stop("skipped");
  ctx.revision = revision;
  if (ctx.ephemeral) ctx.progress("resolve", `${target.ref} is at ${revision}`);
  else rt.countDecision(ctx.run.requestedAt);
};

/** The commit a push named, when this run may start from it (its checkout verifies it). */
export function pushedRevision(ctx: RunContext): string | undefined {
  const { pushed } = ctx.run;
  const usable =
    pushed && !ctx.ephemeral && !ctx.target.promote && ctx.rt.options.source.checkoutPushed !== undefined;
  return usable ? pushed : undefined;
}

/**
 * An unchanged, healthy revision with no resync due never starts the engine;
 * nor does a new one that holds the applied revision's tree at the target's
 * paths (a revert, a commit elsewhere in the repository), which is recorded
 * as applied. Trees are compared only for a revision that would run; a
 * commit a push named is compared once `checkout` has fetched it (its one
 * round trip), so it runs, as a drift check.
 */
export const decide: Step = async (ctx) => {
  const revision = ctx.revision as string;
  const input = {
    target: ctx.target,
    status: ctx.status,
    revision,
    trigger: ctx.run.trigger,
    force: ctx.run.force,
    needsRecovery: ctx.state.needsRecovery,
    now: ctx.rt.options.clock.now(),
  };
  let decision = decideRun(input);
  if (decision.run && !pushedRevision(ctx)) {
    await matchAppliedTree(ctx, "decide");
    if (ctx.sameTreeAs) decision = decideRun({ ...input, sameTree: true });
  }
  if (!decision.run) {
    if (decision.sameTree) {
      await ctx.rt.recorder.sameTreeApplied(ctx.target.name, revision);
      ctx.log.info({ revision }, "revision recorded as applied: it holds the applied revision's tree");
    }
    return stop("skipped");
  }
  ctx.trigger = decision.trigger;
  ctx.approved = decision.approved;
  // Only a drift check of the current revision may refresh less than everything (and a target
  // that refreshes: without a refresh the scope would narrow the up, not the preview).
  if (decision.driftCheck && ctx.target.refresh && ctx.run.refreshScope?.length)
    ctx.refreshScope = ctx.run.refreshScope;
};

/**
 * Compares the run's revision with the applied one (apply mode): the same
 * tree at the target's `path` and `watchPaths`, in a revision that descends
 * from the applied one (any, for a promoted target, whose checkout allows
 * rollbacks), makes the revision as good as applied — its program is the one
 * applied, run as the commit it was applied as, so only drift or config can
 * change anything. Sets `sameTreeAs` and `programRevision`, and says so.
 */
export async function matchAppliedTree(ctx: RunContext, step: string): Promise<void> {
  const { target, rt, status } = ctx;
  const revision = ctx.revision as string;
  const applied = status.lastAppliedRevision;
  const { source } = rt.options;
  ctx.sameTreeAs = undefined;
  if (target.mode === "apply" && applied && applied !== revision && source.sameTree) {
    const ref = { repo: target.repo, ref: target.ref, auth: target.auth };
    const paths = [target.path, ...target.watchPaths];
    const descends =
      target.promote !== undefined || (await source.isAncestor?.(ref, applied, revision)) === true;
    if (descends && (await source.sameTree(ref, applied, revision, paths))) {
      ctx.sameTreeAs = applied;
      ctx.progress(
        step,
        `revision ${revision.slice(0, 12)} has the same tree as the applied revision ${applied.slice(0, 12)} ` +
          `(${paths.join(", ")}): nothing from Git to apply`,
      );
    }
  }
  const current = applied !== undefined && (applied === revision || ctx.sameTreeAs !== undefined);
  ctx.programRevision = current ? (status.programRevision ?? applied) : revision;
}

/** The status as a plan reads it: a revision with the applied revision's tree is the applied one. */
export function appliedView(ctx: RunContext): RunContext["status"] {
  return ctx.sameTreeAs ? { ...ctx.status, lastAppliedRevision: ctx.revision as string } : ctx.status;
}

/** Only a run with work to do waits for its dependencies, so a quiet check never flips the status. */
export const awaitDependencies: Step = async (ctx) => {
  const blocker =
    blockingDependency(ctx.rt, ctx.target) ??
    (await dependencyBehind(ctx.rt, ctx.target, ctx.revision as string));
  if (!blocker) return;
  ctx.deferredBy = blocker;
  return stop("skipped");
};
