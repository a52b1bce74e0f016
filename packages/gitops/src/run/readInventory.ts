/**
 * The inventory rebuilt on demand from the stack's state as it is now,
 * without a run (`Reconciler.readInventory`): identity, health and the
 * commit stamped on each resource come from the state read now; sync states
 * stay those of the last run (its drift, its pending steps, its errors).
 */
import { join } from "node:path";
import { dependencyConfig } from "../pipelines/dependencies.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import type { TargetInventory } from "../types.js";
import { buildInventory } from "./inventory.js";
import { stackRequestFor } from "./stackRequest.js";

/**
 * Reads the target's stack state now and stores the inventory built from it.
 * @returns the stored inventory unchanged while a run of the target is queued
 *   or under way (that run stores a newer one); `undefined` before any run
 *   read the stack (there is no checkout or stack to read yet) or for an
 *   engine that keeps no inventory
 */
export async function readInventory(rt: Runtime, state: TargetState): Promise<TargetInventory | undefined> {
  const { engine, store, dataDir } = rt.options;
  const target = state.spec;
  const previous = await store.getInventory(target.name);
  if (!previous || rt.queue.busy(target.name)) return previous;
  if (!engine.state && !engine.resources) return previous;
  const workDir = target.program
    ? join(dataDir, "inline", target.name)
    : join(dataDir, "work", target.name, target.path);
  const request = stackRequestFor(
    target,
    previous.revision,
    workDir,
    dependencyConfig(rt, target),
    rt.options,
  );
  const resources = engine.state
    ? (await engine.state(request)).resources
    : await (engine.resources as NonNullable<typeof engine.resources>)(request);
  const run = await store.getRun(previous.runId);
  // The last run's steps that were still pending stay pending; what it applied is in `previous` already.
  const pending = new Set(previous.resources.filter((r) => r.sync === "pending").map((r) => r.urn));
  const drift = rt.recorder.status(target.name).unresolvedDrift;
  const inventory = buildInventory({
    target: target.name,
    runId: previous.runId,
    ...(previous.revision ? { revision: previous.revision } : {}),
    at: rt.recorder.now().toISOString(),
    result: run?.result ?? "unchanged",
    resources,
    previous,
    steps: (run?.plan ?? []).filter((s) => pending.has(s.urn)),
    ...(drift ? { drift: drift.resources } : {}),
    errors: new Map(previous.resources.flatMap((r) => (r.error ? [[r.urn, r.error] as const] : []))),
  });
  await rt.recorder.inventory(inventory);
  return inventory;
}
