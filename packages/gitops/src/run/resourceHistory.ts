/**
 * What one run did to each resource, for the resources' history: the steps
 * it applied (with their property changes) and the drift it found. Pure: the
 * run stores the entries with its inventory (see `run.ts`).
 */
import type { DriftedResource, PlannedStep } from "../engine/types.js";
import type { ResourceHistoryEntry, RunResult, TargetInventory } from "../types.js";

/** What a finished run knew, for {@link resourceHistoryEntries}. */
export interface ResourceHistoryInput {
  readonly runId: string;
  readonly revision?: string;
  /** When the run finished (ISO 8601). */
  readonly at: string;
  readonly result: RunResult;
  /** The run's planned steps: applied when the run applied. */
  readonly steps?: readonly PlannedStep[];
  /** The resources this run found drifted (see `driftedResources`), when it found drift. */
  readonly drift?: readonly DriftedResource[];
  /** The inventory before the run: drift it showed already is not recorded again. */
  readonly previous?: TargetInventory;
}

const APPLIED: readonly RunResult[] = ["applied", "drift-corrected"];

/**
 * The run's history entries, drift first, then the applied steps in plan
 * order. Drift the previous inventory showed with the same paths is left out:
 * a detect-only target finds the same drift on every run until someone acts.
 */
export function resourceHistoryEntries(input: ResourceHistoryInput): ResourceHistoryEntry[] {
  const base = { runId: input.runId, ...(input.revision ? { revision: input.revision } : {}), at: input.at };
  const before = new Map((input.previous?.resources ?? []).map((r) => [r.urn, r]));
  const entries: ResourceHistoryEntry[] = [];
  for (const drifted of input.drift ?? []) {
    const paths = drifted.paths ?? [];
    const known = before.get(drifted.urn);
    if (known?.sync === "drifted" && samePaths(known.driftPaths ?? [], paths)) continue;
    entries.push({ urn: drifted.urn, type: drifted.type, ...base, op: "drift", paths: [...paths] });
  }
  if (APPLIED.includes(input.result)) {
    for (const step of input.steps ?? []) {
      entries.push({
        urn: step.urn,
        type: step.type,
        ...base,
        op: step.op,
        paths: step.diffs?.map((d) => d.path) ?? [...(step.keys ?? [])],
        ...(step.diffs?.length ? { changes: step.diffs } : {}),
      });
    }
  }
  return entries;
}

function samePaths(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}
