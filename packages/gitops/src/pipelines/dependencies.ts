/**
 * Dependencies between targets: whether a target's dependencies are ready or
 * behind its revision, their outputs passed as config, and which dependents
 * to queue after a run.
 */
import { combineSpecErrors, DriftlessError, SpecError } from "../errors.js";
import { pathMatches } from "../git/match.js";
import { sameRepo } from "../git/repo.js";
import { DEPENDENCY_CONFIG_PREFIX } from "../run/stackRequest.js";
import { condition } from "../run/status.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import { type ResolvedTarget, resolveTarget, type TargetSpec } from "../spec/spec.js";
import { stableJson } from "../util.js";
import { type DependencyGraph, dependentsFirst, dependentsOf, graphErrors } from "./graph.js";
import { ordering, promotionErrors } from "./promotion.js";

/** The ordering graph of the managed targets (dependencies and promotion sources). */
export function graphOf(rt: Runtime): DependencyGraph {
  return new Map([...rt.targets].map(([name, t]) => [name, ordering(t.spec)]));
}

interface DependentsIndex {
  /** The specs the index was built from, in the targets' order. */
  readonly specs: ResolvedTarget[];
  readonly dependents: ReadonlyMap<string, readonly string[]>;
}

const dependentsIndexes = new WeakMap<ReadonlyMap<string, TargetState>, DependentsIndex>();

/**
 * Targets that depend on (or promote from) `name`, sorted. Looked up in an
 * index rebuilt only when a target is added, removed or given a new spec:
 * this runs after every run, and with many targets a graph built each time
 * is most of what a reconciler allocates.
 */
export function dependentsIn(rt: Runtime, name: string): readonly string[] {
  let index = dependentsIndexes.get(rt.targets);
  if (!index || !sameSpecs(index.specs, rt.targets)) {
    const graph = graphOf(rt);
    const dependents = new Map<string, string[]>();
    for (const [dependent, deps] of graph) {
      for (const dep of new Set(deps)) {
        const list = dependents.get(dep);
        if (list) list.push(dependent);
        else dependents.set(dep, [dependent]);
      }
    }
    for (const list of dependents.values()) list.sort();
    index = { specs: [...rt.targets.values()].map((t) => t.spec), dependents };
    dependentsIndexes.set(rt.targets, index);
  }
  return index.dependents.get(name) ?? [];
}

function sameSpecs(specs: readonly ResolvedTarget[], targets: ReadonlyMap<string, TargetState>): boolean {
  if (specs.length !== targets.size) return false;
  let i = 0;
  for (const state of targets.values()) if (state.spec !== specs[i++]) return false;
  return true;
}

/**
 * Why a target cannot run yet: a dependency that is not Ready or still has a
 * run queued or in progress. `undefined` when every dependency is ready.
 */
export function blockingDependency(rt: Runtime, target: ResolvedTarget): string | undefined {
  for (const dep of target.dependsOn) {
    if (!rt.targets.has(dep)) return `dependency "${dep}" is not managed`;
    if (rt.queue.busy(dep)) return `dependency "${dep}" has a run in progress`;
    const ready = condition(rt.recorder.status(dep), "Ready");
    if (ready?.status !== true) {
      return `dependency "${dep}" is not ready${ready ? ` (${ready.reason})` : " (never applied)"}`;
    }
  }
  return undefined;
}

/** Every target a target depends on, directly or further up. */
export function upstreamOf(rt: Runtime, target: ResolvedTarget): Set<string> {
  const upstream = new Set<string>();
  const visit = (names: readonly string[]) => {
    for (const name of names) {
      if (upstream.has(name)) continue;
      upstream.add(name);
      visit(rt.targets.get(name)?.spec.dependsOn ?? []);
    }
  };
  visit(target.dependsOn);
  return upstream;
}

/**
 * A dependency (direct or further up) on the same repository and ref that
 * applied an older revision whose own files (its path and `watchPaths`)
 * changed since: it has not caught up with `revision` yet, so it is queued
 * and the dependent waits for it. A dependency at the same or a newer
 * revision, or whose files did not change, does not hold the dependent back.
 */
export async function dependencyBehind(
  rt: Runtime,
  target: ResolvedTarget,
  revision: string,
): Promise<string | undefined> {
  const source = { repo: target.repo, ref: target.ref, auth: target.auth };
  for (const dep of upstreamOf(rt, target)) {
    const state = rt.targets.get(dep);
    const applied = rt.recorder.status(dep).lastAppliedRevision;
    if (!state || !applied || applied === revision) continue;
    const spec = state.spec;
    if (!sameRepo(spec.repo, target.repo) || spec.ref !== target.ref) continue;
    if (await rt.options.source.isAncestor?.(source, revision, applied)) continue;
    const changed = await rt.options.source.changedFiles(source, applied, revision);
    if (changed === undefined || ![spec.path, ...spec.watchPaths].some((p) => pathMatches(p, changed)))
      continue;
    if (!rt.queue.busy(dep) && !state.removed && !rt.stopping()) {
      rt.enqueue(state, { trigger: "dependency", force: false });
    }
    return `dependency "${dep}" applied ${applied.slice(0, 12)}, which is behind ${revision.slice(0, 12)} (its files changed); waiting for it to catch up`;
  }
  return undefined;
}

/**
 * Each dependency's last outputs as plain config: `deps.<dependency>` holds
 * them as one JSON object (read typed with `dependencyOutputs` of
 * `@driftless/core`), `deps.<dependency>.<output>` each one (strings as they
 * are, other values JSON-encoded). Secrets are left out.
 */
export function dependencyConfig(rt: Runtime, target: ResolvedTarget): Record<string, string> {
  const config: Record<string, string> = {};
  for (const dep of target.dependsOn) {
    const outputs = rt.recorder.status(dep).outputs;
    const passed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(outputs ?? {})) {
      if (value === "[secret]" || value === undefined) continue;
      passed[key] = value;
      config[`${DEPENDENCY_CONFIG_PREFIX}.${dep}.${key}`] =
        typeof value === "string" ? value : JSON.stringify(value);
    }
    if (outputs) config[`${DEPENDENCY_CONFIG_PREFIX}.${dep}`] = stableJson(passed);
  }
  return config;
}

/**
 * After a run: dependents are queued when its outputs changed, targets
 * promoting from it look again, and dependents that waited for it are queued
 * again once it is ready.
 */
export function afterRun(rt: Runtime, state: TargetState, outputsChanged: boolean, recorded: boolean): void {
  if (rt.stopping() || state.removed) return;
  for (const name of dependentsIn(rt, state.spec.name)) {
    const dependent = rt.targets.get(name);
    if (!dependent || dependent.removed) continue;
    if (!dependent.spec.dependsOn.includes(state.spec.name)) {
      // A target promoting from this one looks at what it now holds (cheap: no Git, no engine).
      if (recorded && !rt.isSuspended(name)) rt.enqueue(dependent, { trigger: "promotion", force: false });
      continue;
    }
    const waiting = dependent.deferred;
    if (outputsChanged && !rt.isSuspended(name)) {
      dependent.deferred = undefined;
      rt.enqueue(dependent, { trigger: "dependency", force: true });
    } else if (waiting && !blockingDependency(rt, dependent.spec)) {
      dependent.deferred = undefined;
      rt.enqueue(dependent, waiting);
    }
  }
  // Targets further down that waited for this one to catch up look again.
  for (const other of rt.targets.values()) {
    const waiting = other.deferred;
    if (!waiting || other.removed || rt.queue.busy(other.spec.name)) continue;
    if (!upstreamOf(rt, other.spec).has(state.spec.name)) continue;
    if (blockingDependency(rt, other.spec)) continue;
    other.deferred = undefined;
    rt.enqueue(other, waiting);
  }
}

/**
 * The order to remove targets in: dependents before their dependencies.
 * @throws DriftlessError when a target that stays depends on one removed
 */
export function removalOrder(rt: Runtime, names: readonly string[]): string[] {
  const removing = new Set(names);
  const graph = graphOf(rt);
  for (const name of removing) {
    const staying = dependentsOf(graph, name).filter((d) => !removing.has(d));
    if (staying.length > 0) {
      throw new DriftlessError(
        `cannot remove target "${name}": ${staying.map((d) => `"${d}"`).join(", ")} depend${staying.length === 1 ? "s" : ""} on it; remove ${staying.length === 1 ? "it" : "them"} first or together`,
      );
    }
  }
  return dependentsFirst(graph, [...removing]);
}

/**
 * Resolves targets together, so a target may depend on (or promote from) one
 * listed after it, and checks the set: unique names, promotion sources, no cycle.
 * @throws SpecError
 */
export function resolveTargetSet(
  specs: readonly TargetSpec[],
  dataDir: string,
  backend?: string,
): Map<string, ResolvedTarget> {
  const resolved = new Map<string, ResolvedTarget>();
  const errors: SpecError[] = [];
  // Names of targets whose specs are wrong: others may name them without being wrong too.
  const invalid: string[] = [];
  for (const spec of specs) {
    let target: ResolvedTarget;
    try {
      target = resolveTarget(spec, { dataDir, backend });
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      errors.push(error);
      const name = (spec as { name?: unknown } | undefined)?.name;
      if (typeof name === "string") invalid.push(name);
      continue;
    }
    if (resolved.has(target.name)) {
      errors.push(
        new SpecError(`target "${target.name}"`, [
          { path: "name", message: "is used by more than one target" },
        ]),
      );
      continue;
    }
    resolved.set(target.name, target);
  }
  errors.push(...promotionErrors(resolved, invalid));
  errors.push(...graphErrors(new Map([...resolved].map(([name, t]) => [name, ordering(t)])), invalid));
  const [first, ...more] = errors;
  if (first) throw combineSpecErrors([first, ...more]);
  return resolved;
}
