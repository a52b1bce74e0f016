/**
 * Removing targets: dependents before their dependencies, destroying the
 * stacks of targets with `destroyOnRemove` first and stopping at the first
 * destroy that fails.
 */

import type { RunQueue } from "../schedule/queue.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import type { Scheduler } from "../schedule/scheduler.js";
import type { RunRecord } from "../types.js";
import { removalOrder } from "./dependencies.js";

/** The parts of a reconciler a removal changes. */
export interface RemovalParts {
  readonly rt: Runtime;
  readonly targets: Map<string, TargetState>;
  readonly queue: Pick<RunQueue<unknown>, "active" | "remove">;
  readonly scheduler: Pick<Scheduler, "unschedule" | "remove">;
  /** @throws UnknownTargetError */
  require(name: string): TargetState;
}

/** Removes targets in reverse dependency order; returns the destroy runs, in the order they ran. */
export async function removeTargets(parts: RemovalParts, names: readonly string[]): Promise<RunRecord[]> {
  for (const name of names) parts.require(name);
  const records: RunRecord[] = [];
  for (const name of removalOrder(parts.rt, names)) {
    const destroyed = await remove(parts, name);
    if (destroyed) records.push(destroyed);
    if (destroyed && destroyed.result !== "destroyed") break;
  }
  return records;
}

async function remove(parts: RemovalParts, name: string): Promise<RunRecord | undefined> {
  const { rt, targets, queue, scheduler } = parts;
  const state = parts.require(name);
  scheduler.unschedule(name);
  let destroyed: RunRecord | undefined;
  if (state.spec.destroyOnRemove) {
    destroyed = await rt.enqueue(state, { kind: "destroy", trigger: "manual", force: true }).done;
    if (destroyed.result !== "destroyed") return destroyed;
  }
  await queue.active(name)?.done;
  state.removed = true;
  targets.delete(name);
  scheduler.remove(name);
  queue.remove(name);
  await rt.options.store.deleteTarget(name);
  rt.recorder.forget(name);
  return destroyed;
}
