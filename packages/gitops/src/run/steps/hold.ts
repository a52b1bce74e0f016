/**
 * The steps between a plan and its \`up\` that may hold it back: the safety
 * gates (with the delete-first plan a person approved), approval, and change
 * windows. Part of \`RECONCILE_STEPS\` (see \`../steps.ts\`); each may stop the run.
 */
import { existsSync, rmSync } from "node:fs";
import { GateRefusedError } from "../../errors.js";
import { checkWindows } from "../../spec/windows.js";
import { formatCounts } from "../../util.js";
import { needsApproval, planDigest } from "../decide.js";
import { checkGates, sameNameReplacements } from "../gates.js";
import { engineOptions, type RunContext, type Step, type Stop } from "../run.js";
import { stateVersion as currentStateVersion } from "../stackState.js";

const stop = (result: Stop["stop"]): Stop => ({ stop: result });

/**
 * Safety gates refuse destructive or empty plans unless approved. An approved
 * plan that replaces objects by themselves create-before-delete is planned
 * again delete-before-replace: what the person accepted is the delete.
 */
export const gates: Step = async (ctx) => {
  if (ctx.approved) return deleteFirstIfApproved(ctx);
  const refusal = checkGates(ctx.plan!, ctx.target.gates);
  if (!refusal) return;
  if (ctx.planFile) rmSync(ctx.planFile, { force: true });
  ctx.rt.events.emit("gate.refused", {
    target: ctx.target.name,
    revision: ctx.revision as string,
    gate: refusal.gate,
    message: refusal.message,
  });
  throw new GateRefusedError(refusal.gate, refusal.message);
};

/**
 * An approved revision whose plan replaces objects by themselves: the
 * replacements of those types are planned again, and applied, old object
 * first (see `deleteFirst.ts`). Refused if the engine still would not.
 */
async function deleteFirstIfApproved(ctx: RunContext): Promise<void> {
  const sameName = sameNameReplacements(ctx.plan!);
  if (sameName.length === 0) return;
  ctx.deleteFirst = [...new Set([...(ctx.deleteFirst ?? []), ...sameName.map((s) => s.type)])];
  ctx.progress(
    "gates",
    `approved: ${sameName.map((s) => s.urn).join(", ")} replaced delete-before-replace (deleted, then created again)`,
  );
  const replanned = await ctx.rt.options.engine.preview(ctx.request!, {
    ...engineOptions(ctx, ctx.upRefresh ?? false),
    deleteFirst: ctx.deleteFirst,
  });
  const still = sameNameReplacements(replanned);
  if (still.length > 0)
    throw new GateRefusedError(
      "same-name-replacement",
      `the engine would still replace ${still.map((s) => s.urn).join(", ")} create-before-delete with an object of the same name; ` +
        "set `deleteBeforeReplace: true` on the resource",
    );
  ctx.plan = ctx.plan?.drift ? { ...replanned, drift: ctx.plan.drift } : replanned;
  ctx.counts = replanned.counts;
  ctx.steps = replanned.steps;
}

/** Holds the plan for a person unless this exact plan was approved. */
export const holdForApproval: Step = async (ctx) => {
  const plan = ctx.plan!;
  const revision = ctx.revision as string;
  const held = ctx.status.awaitingApproval;
  const keepPlan = plan.changes && needsApproval(ctx.target.requireApproval, plan);
  const digest = planDigest(plan);
  const approvedPlan =
    ctx.approved && !ctx.replanned && (held?.revision !== revision || held.digest === digest);
  if (keepPlan && !approvedPlan) {
    const { planFile } = ctx;
    // The read the plan was pinned to before its preview, when the run made one (a preview writes no state).
    const stateVersion = planFile ? await currentStateVersion(ctx, false) : undefined;
    ctx.approval = {
      revision,
      runId: ctx.run.id,
      counts: plan.counts,
      digest,
      plannedAt: ctx.rt.recorder.now().toISOString(),
      ...(planFile && existsSync(planFile) ? { planFile } : {}),
      ...(stateVersion ? { stateVersion } : {}),
      ...(ctx.run.requestedBy.length > 0 ? { requestedBy: [...ctx.run.requestedBy] } : {}),
    };
    ctx.steps = plan.steps;
    ctx.progress(
      "approval",
      `waiting for approval of ${formatCounts(plan.counts)}${stateVersion ? ` (plan pinned to ${revision.slice(0, 12)} and state ${stateVersion})` : ""}`,
    );
    return stop("awaiting-approval");
  }
  if (ctx.planFile) rmSync(ctx.planFile, { force: true });
};

/** Outside its change windows an `up` waits for them (unless overridden); says so and when. */
export const changeWindow: Step = (ctx) => {
  const { target, run } = ctx;
  if (!target.windows) return;
  if (run.override) {
    ctx.progress("window", `change window overridden by ${run.override.by}: ${run.override.reason}`);
    return;
  }
  const verdict = checkWindows(target.windows, ctx.rt.recorder.now());
  if (verdict.open) return;
  if (verdict.opensAt) ctx.windowOpensAt = verdict.opensAt;
  ctx.progress(
    "window",
    `${verdict.blockedBy === "deny" ? "inside a deny window" : "outside the allow windows"}; ${
      verdict.opensAt ? `changes wait until ${verdict.opensAt.toISOString()}` : "no window opens again"
    }`,
  );
  return stop("deferred");
};
