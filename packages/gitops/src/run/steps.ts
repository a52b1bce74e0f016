/**
 * The steps of a run, in the order they run (see `RECONCILE_STEPS`): each
 * does one thing and may stop the run with a result. `previewRef` runs a
 * subset of the same steps against a scratch checkout. The steps before the
 * lease are in `steps/revision.ts`, those that may hold a plan back in `steps/hold.ts`.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { INSTALLER_ENV_ALLOWLIST, legacyRefreshDiff } from "../engine/env.js";
import { TYPE_CHECK_ENV, typeCheckFor } from "../engine/typecheck.js";
import type { Plan, StackRequest } from "../engine/types.js";
import { prepareDependencies } from "../engine/workspace.js";
import { PlanDivergedError, StateMovedError } from "../errors.js";
import { dependencyConfig } from "../pipelines/dependencies.js";
import { leaseStack } from "../replicas/leases.js";
import { formatCounts, sha256, stableJson } from "../util.js";
import {
  driftedResources,
  driftSteps,
  hasConfigChanges,
  hasGitChanges,
  isDrift,
  needsApproval,
  withUnresolvedDrift,
} from "./decide.js";
import { engineOptions, type RunContext, recordStart, runSteps, type Step, type Stop } from "./run.js";
import { compileCacheDir, inheritedFor, runTempDir, stackRequestFor } from "./stackRequest.js";
import { stateVersion, stateWritten, tellsStateVersion } from "./stackState.js";
import { changeWindow, gates, holdForApproval } from "./steps/hold.js";
import {
  appliedView,
  awaitDependencies,
  decide,
  matchAppliedTree,
  pushedRevision,
  resolveRevision,
} from "./steps/revision.js";

const stop = (result: Stop["stop"]): Stop => ({ stop: result });

/**
 * The stack's lease first, then an engine slot: a run waiting for another
 * process does not hold an engine slot, nor a decision slot.
 */
export const acquire: Step = async (ctx) => {
  const { rt } = ctx;
  ctx.decided();
  ctx.releases.push(
    await leaseStack(rt, {
      state: ctx.state,
      runId: ctx.run.id,
      signal: ctx.signal,
      progress: (step, message) => ctx.progress(step, message),
      warn: (error, message) => ctx.log.warn({ err: error }, message),
    }),
  );
  ctx.releases.push(await rt.engineSlots.acquire(ctx.signal));
  await recordStart(ctx);
  if (ctx.revision) ctx.progress("resolve", `${ctx.target.ref} is at ${ctx.revision}`);
};

/**
 * A ref preview takes an engine slot like a run, so previews of pull requests
 * never run more engines than `concurrency` allows; it takes no stack lease
 * (it does not change the stack's state).
 */
export const engineSlot: Step = async (ctx) => {
  ctx.releases.push(await ctx.rt.engineSlots.acquire(ctx.signal));
};

/**
 * The exact commit, refusing a rewritten ref unless approved. A commit a push
 * named is checked out only if the ref fetched from the remote points at it;
 * otherwise the run follows the ref's real tip.
 */
export const checkout: Step = async (ctx) => {
  const { target, rt } = ctx;
  const { source } = rt.options;
  let revision = ctx.revision as string;
  ctx.checkoutDir ??= join(rt.options.dataDir, "work", target.name);
  // A promoted revision may go backwards (a rollback); it was checked where it came from.
  const previous =
    ctx.ephemeral || ctx.approved || target.promote ? undefined : ctx.status.lastAppliedRevision;
  const ref = { repo: target.repo, ref: target.ref, auth: target.auth };
  if (pushedRevision(ctx) === revision && source.checkoutPushed) {
    revision = await source.checkoutPushed(ref, revision, ctx.checkoutDir, previous);
    if (revision !== ctx.revision)
      ctx.progress(
        "checkout",
        `the pushed commit ${(ctx.revision as string).slice(0, 12)} is not ${target.ref}'s tip; following ${revision.slice(0, 12)}`,
      );
    ctx.revision = revision;
    // Fetched now: compared with the applied revision here, not in `decide`.
    await matchAppliedTree(ctx, "checkout");
  } else {
    await source.checkout(ref, revision, ctx.checkoutDir, previous);
  }
  ctx.projectDir = join(ctx.checkoutDir, target.path);
  ctx.progress("checkout", `checked out ${revision.slice(0, 12)} into ${ctx.projectDir}`);
};

/** The program's dependencies, only when its lockfile changed. */
export const prepare: Step = async (ctx) => {
  if (ctx.target.program || !ctx.rt.options.installDependencies) return;
  const { target, rt } = ctx;
  const env = { ...inheritedFor(target, rt.options.inheritEnv, INSTALLER_ENV_ALLOWLIST), ...target.env };
  const prepared = await prepareDependencies(ctx.projectDir as string, { env, signal: ctx.signal });
  ctx.progress(
    "prepare",
    `dependencies ${prepared.action}${prepared.lockfile ? ` (${prepared.lockfile})` : ""}`,
  );
};

/** The request with the run's own temporary directory as `TMPDIR` (see {@link runTempDir}), removed when the run ends. */
async function withRunTempDir(ctx: RunContext, request: StackRequest): Promise<StackRequest> {
  const temp = await runTempDir(ctx.rt.options.dataDir, ctx.target, ctx.run.id);
  ctx.releases.push(temp.remove);
  return { ...request, env: { ...request.env, ...temp.env } };
}

/**
 * The engine request. Outputs of dependencies reach the program as config;
 * when they changed, an `up` is due even if no resource changes.
 */
export const buildRequest: Step = async (ctx) => {
  const { target, rt } = ctx;
  const workDir = target.program
    ? ctx.ephemeral
      ? join(ctx.checkoutDir as string, ".driftless", "inline")
      : join(rt.options.dataDir, "inline", target.name)
    : (ctx.projectDir as string);
  const deps = dependencyConfig(rt, target);
  ctx.request = await withRunTempDir(
    ctx,
    stackRequestFor(target, ctx.programRevision ?? ctx.revision, workDir, deps, rt.options),
  );
  ctx.depsDigest = Object.keys(deps).length > 0 ? sha256(stableJson(deps)).slice(0, 16) : undefined;
};

/**
 * A ref preview is where type errors belong: the program is type-checked as
 * `pulumi preview` would, whatever the target's runs do.
 */
export const typeCheck: Step = (ctx) => {
  const check = typeCheckFor(ctx.projectDir as string, ctx.target.program !== undefined);
  ctx.typeCheck = check;
  if (check.checked && ctx.request)
    ctx.request = { ...ctx.request, env: { ...ctx.request.env, ...TYPE_CHECK_ENV } };
  ctx.progress("typecheck", check.detail);
};

/** What an interrupted run left behind: stale locks, pending operations. */
export const recover: Step = async (ctx) => {
  if (!ctx.state.needsRecovery) return;
  stateWritten(ctx);
  const actions = await ctx.rt.options.engine.recover(ctx.request!, engineOptions(ctx, false));
  for (const action of actions) ctx.progress("recover", action);
  ctx.state.needsRecovery = false;
};

/**
 * A person approved the plan this target holds: while the revision and the
 * stack's state are as they were when it was made, exactly that plan is
 * applied (`up --plan`: the engine refuses anything else).
 */
export const applyApprovedPlan: Step = async (ctx) => {
  const { engine } = ctx.rt.options;
  const held = ctx.status.awaitingApproval;
  if (!held || !ctx.approved || held.revision !== ctx.revision || !held.planFile || !held.stateVersion)
    return;
  if (!tellsStateVersion(engine)) return;
  const { planFile } = held;
  const version = await stateVersion(ctx, true);
  if (version === held.stateVersion && existsSync(planFile)) {
    ctx.counts = held.counts;
    // The run applies the held run's plan; its record says which.
    const plan = (await ctx.rt.options.store.getRun(held.runId))?.plan;
    if (plan) ctx.steps = plan;
    const outside = changeWindow(ctx);
    if (outside) return outside;
    ctx.progress(
      "apply",
      `up with the plan approved from run ${held.runId.slice(0, 8)} (state ${version}, ${formatCounts(held.counts)})`,
    );
    // No refresh: it would change the state the plan was made against.
    stateWritten(ctx);
    const applied = await engine.up(ctx.request!, { ...engineOptions(ctx, false), plan: planFile });
    return appliedResult(ctx, applied.counts, applied.outputs);
  }
  ctx.replanned = true;
  ctx.progress(
    "approval",
    version === held.stateVersion
      ? "the approved plan file is gone; planning again"
      : `the stack's state changed since the plan was made (${held.stateVersion} → ${version}); planning again`,
  );
};

/**
 * What would change, after refreshing from the real infrastructure; drift is
 * what the refresh found changed. A target that may need approval saves the
 * engine's plan to apply later.
 *
 * A new revision in apply mode will almost surely be applied: it refreshes
 * once and keeps the refreshed state (`pulumi refresh`, which also reports
 * the drift), then previews and applies against that state, noting the
 * state's digest so the `up` starts only from the state the gates saw. A
 * drift check of the applied revision usually finds nothing: it refreshes
 * inside its one preview and keeps nothing; only when that finds changes
 * does its `up` refresh again.
 *
 * A watch's drift check ({@link watchCheck}) looks only at the changed
 * resources, and runs the program only when there is drift to put back.
 */
export const preview: Step = async (ctx) => {
  const { target, rt } = ctx;
  const { engine } = rt.options;
  const revision = ctx.revision as string;
  const applying = !ctx.ephemeral && target.mode === "apply";
  const scope = ctx.replans === 0 ? ctx.refreshScope : undefined;
  // An apply whose dependencies' outputs moved has the stack's outputs to update, drift or not.
  const refreshCheck =
    scope && engine.previewRefresh && !(applying && depsChanged(ctx)) && !legacyRefreshDiff(ctx.request!.env);
  if (scope && refreshCheck) {
    const checked = await watchCheck(ctx, scope);
    if (!applying || !checked) return;
  }
  const refreshFirst =
    scope === undefined &&
    applying &&
    target.refresh &&
    ctx.replans === 0 &&
    engine.refresh !== undefined &&
    appliedView(ctx).lastAppliedRevision !== revision;
  // Planning again after the state moved: the refresh this run kept stands.
  const previewRefresh = target.refresh && !refreshFirst && ctx.replans === 0;
  ctx.upRefresh = applying && previewRefresh;
  ctx.planFile =
    applying && target.requireApproval !== "never"
      ? join(rt.options.dataDir, "plans", target.name, `${ctx.run.id}.json`)
      : undefined;
  if (ctx.planFile) mkdirSync(dirname(ctx.planFile), { recursive: true });
  let drift = ctx.replans > 0 ? ctx.plan?.drift : undefined;
  // What the watches saw before this refresh of every resource began, it reads.
  const refreshStartedAt = Date.now();
  if (refreshFirst && engine.refresh) {
    ctx.progress("refresh", "refresh");
    stateWritten(ctx);
    drift = await engine.refresh(ctx.request!, engineOptions(ctx, false));
  }
  // Taken before the preview: an update by anyone else during it changes the digest.
  ctx.planState =
    applying && !ctx.upRefresh && tellsStateVersion(engine) ? await stateVersion(ctx, true) : undefined;
  ctx.progress(
    "preview",
    scope
      ? `refresh and preview --target ${scope.length} resource(s): ${scope.join(" ")}`
      : previewRefresh
        ? "refresh and preview"
        : "preview",
  );
  const previewed = await engine.preview(ctx.request!, {
    ...engineOptions(ctx, previewRefresh),
    ...(scope ? { targets: scope } : {}),
    ...(ctx.planFile ? { savePlan: ctx.planFile } : {}),
    ...(ctx.ephemeral ? { ephemeral: true } : {}),
    ...(ctx.deleteFirst ? { deleteFirst: ctx.deleteFirst } : {}),
  });
  await takePlan(ctx, drift ? { ...previewed, drift } : previewed, scope);
  if (!scope && !ctx.ephemeral && (refreshFirst || previewRefresh))
    rt.refreshed?.(target.name, refreshStartedAt);
  const keepPlan = ctx.plan!.changes && needsApproval(target.requireApproval, ctx.plan!);
  if (ctx.planFile && !keepPlan) rmSync(ctx.planFile, { force: true });
};

/**
 * A watch's drift check of the applied revision, before any program runs:
 * `pulumi refresh --preview-only --target` of the changed resources (their
 * component parents have nothing to read). The engine's refresh diff is what
 * an `up` of the unchanged program would change — the provider's diff, with
 * each resource's `ignoreChanges` — so a label another tool added, or a
 * status a controller moved, is no drift, as in a preview. Detect and
 * preview modes end with this plan; apply mode goes on to a targeted
 * preview and `up` only when it found drift. Returns whether it did.
 */
async function watchCheck(ctx: RunContext, scope: readonly string[]): Promise<boolean> {
  const { engine } = ctx.rt.options;
  ctx.progress("preview", `refresh --preview-only --target ${scope.length} resource(s): ${scope.join(" ")}`);
  const checked = await engine.previewRefresh!(ctx.request!, {
    ...engineOptions(ctx, false),
    targets: scope,
  });
  const found = checked.drift?.length ?? 0;
  if (ctx.target.mode !== "apply" || found === 0) {
    await takePlan(ctx, checked, scope);
    return found > 0;
  }
  ctx.progress("preview", `drift in ${found} resource(s): planning to put it back`);
  return true;
}

/**
 * Takes a preview's plan as the run's: what it would change, whether that is
 * drift or Git's, and drift recorded at once. A check of only `scope` knows
 * nothing of the other resources: drift found before outside it stays
 * found, and Git's changes stay as the last full check saw them.
 */
async function takePlan(
  ctx: RunContext,
  previewed: Plan,
  scope: readonly string[] | undefined,
): Promise<void> {
  const { target, rt } = ctx;
  const revision = ctx.revision as string;
  const plan = withUnresolvedDrift(previewed, ctx.status);
  ctx.plan = plan;
  ctx.counts = plan.counts;
  if (ctx.ephemeral) return;
  // Kept in history, so a drifted or held run shows what it would change.
  if (plan.changes) ctx.steps = plan.steps;
  const applied = appliedView(ctx);
  const inScope = new Set(scope);
  const carried = scope
    ? (ctx.status.unresolvedDrift?.resources ?? []).filter((r) => !inScope.has(r.urn))
    : [];
  const found = isDrift(plan, applied, revision);
  ctx.drift = found || carried.length > 0;
  // Only drift found before: the run reports it as the check that found it counted it.
  if (!found && carried.length > 0) ctx.counts = ctx.status.unresolvedDrift?.counts ?? plan.counts;
  ctx.changesPending = scope
    ? ctx.status.pendingChanges?.revision === revision
    : hasGitChanges(plan, applied, revision);
  const notes = [
    ...(found ? [`drift${plan.drift ? ` in ${driftSteps(plan)?.length} resource(s)` : ""}`] : []),
    ...(carried.length ? [`drift found before in ${carried.length} resource(s) not checked`] : []),
    ...(ctx.changesPending ? ["changes from Git not yet applied"] : []),
    ...(!scope && hasConfigChanges(plan, applied, revision)
      ? ["configuration or dependency outputs changed"]
      : []),
  ];
  ctx.progress(
    "preview",
    `plan: ${formatCounts(plan.counts)}${notes.length ? ` (${notes.join("; ")})` : ""}`,
  );
  if (found) {
    // Kept now: this run's refresh may write the drift into the state before the run ends.
    await rt.recorder.driftFound(target.name, {
      runId: ctx.run.id,
      revision,
      at: rt.recorder.now().toISOString(),
      resources: [...driftedResources(plan), ...carried],
      counts: plan.counts,
    });
    ctx.status = rt.recorder.status(target.name);
    rt.events.emit("drift.detected", { target: target.name, revision, counts: plan.counts });
  }
}

/** The dependency outputs passed as config are not the ones last applied. */
function depsChanged(ctx: RunContext): boolean {
  return ctx.depsDigest !== undefined && ctx.depsDigest !== ctx.status.appliedDepsDigest;
}

/** Preview and detect modes end here; an apply with nothing to change too. */
export const modeResult: Step = (ctx) => {
  const plan = ctx.plan!;
  if (ctx.target.mode === "preview") return stop("planned");
  if (ctx.target.mode === "detect")
    return stop(ctx.drift ? "drift-detected" : plan.changes || ctx.changesPending ? "planned" : "unchanged");
  if (!plan.changes && !depsChanged(ctx)) return stop("unchanged");
  if (!plan.changes) ctx.progress("preview", "dependency outputs changed; up to update the stack outputs");
};

/** Planning again, when the stack's state moved between the preview and the `up`. */
const REPLAN_STEPS: readonly Step[] = [preview, modeResult, gates, holdForApproval, changeWindow];
/** How often a run plans again before it gives up and is retried later. */
const MAX_REPLANS = 3;

/**
 * `pulumi up`, doing only what the preview showed: it starts from the state
 * the preview planned against, and is stopped at any step the preview did not
 * show; either way the run plans again (the gates see the new plan). A drift
 * check's `up` refreshes again, as its preview did.
 */
export const apply: Step = async (ctx) => {
  const { engine } = ctx.rt.options;
  for (;;) {
    try {
      if (ctx.planState !== undefined && tellsStateVersion(engine)) {
        const current = await stateVersion(ctx, true);
        if (current !== undefined && current !== ctx.planState)
          throw new StateMovedError(ctx.planState, current);
      }
      ctx.progress("apply", ctx.upRefresh ? "refresh and up" : "up");
      ctx.upStarted = true;
      stateWritten(ctx);
      const applied = await engine.up(ctx.request!, {
        ...engineOptions(ctx, ctx.upRefresh ?? ctx.target.refresh),
        ...(ctx.refreshScope && ctx.replans === 0 ? { targets: ctx.refreshScope } : {}),
        expect: ctx.plan?.steps ?? [],
        ...(ctx.deleteFirst ? { deleteFirst: ctx.deleteFirst } : {}),
        ...(ctx.planState !== undefined ? { fromState: ctx.planState } : {}),
      });
      return appliedResult(ctx, applied.counts, applied.outputs);
    } catch (error) {
      if (!(error instanceof PlanDivergedError) || ctx.signal.aborted) throw error;
      if (ctx.replans >= MAX_REPLANS)
        throw new PlanDivergedError(`${error.message}; planned ${ctx.replans} times, will retry`, 5000, {
          cause: error,
        });
      ctx.replans++;
      ctx.progress("apply", `${error.message}; planning again`);
      const stopped = await runSteps(ctx, REPLAN_STEPS);
      if (stopped) return stop(stopped);
    }
  }
};

function appliedResult(
  ctx: RunContext,
  counts: NonNullable<RunContext["counts"]>,
  outputs: Readonly<Record<string, unknown>>,
): Stop {
  ctx.counts = counts;
  ctx.outputs = outputs;
  ctx.progress("apply", `applied: ${formatCounts(counts)}`);
  return stop(ctx.drift ? "drift-corrected" : "applied");
}

/** Destroys a removed target's stack and its checkout. */
export const destroy: Step = async (ctx) => {
  const { target, rt } = ctx;
  const checkoutDir = join(rt.options.dataDir, "work", target.name);
  const workDir = target.program
    ? join(rt.options.dataDir, "inline", target.name)
    : join(checkoutDir, target.path);
  ctx.progress("destroy", `destroying stack ${target.stack}`);
  const request = await withRunTempDir(
    ctx,
    stackRequestFor(target, ctx.revision, workDir, dependencyConfig(rt, target), rt.options),
  );
  const result = await rt.options.engine.destroy(request, engineOptions(ctx, target.refresh));
  ctx.counts = result.counts;
  rmSync(checkoutDir, { recursive: true, force: true });
  rmSync(compileCacheDir(rt.options.dataDir, target.name), { recursive: true, force: true });
  return stop("destroyed");
};

/** A reconcile, in order. */
export const RECONCILE_STEPS: readonly Step[] = [
  resolveRevision,
  decide,
  awaitDependencies,
  acquire,
  checkout,
  prepare,
  buildRequest,
  recover,
  applyApprovedPlan,
  preview,
  modeResult,
  gates,
  holdForApproval,
  changeWindow,
  apply,
];

/** Destroying a removed target's stack. */
export const DESTROY_STEPS: readonly Step[] = [acquire, destroy];

/** Planning another ref against the stack: the same steps, in an engine slot, without lease, decision or apply. */
export const PREVIEW_REF_STEPS: readonly Step[] = [
  resolveRevision,
  engineSlot,
  checkout,
  prepare,
  buildRequest,
  typeCheck,
  preview,
];
