/**
 * What the parts of one reconciler share: resolved options, the target
 * registry, the queue, the events and the status writer. The facade
 * (`reconciler.ts`) builds it; runs, steps and policies receive it.
 */
import type { StackState, StateResource } from "../engine/types.js";
import type { ReconcilerEvents, TypedEmitter } from "../events.js";
import type { QueuedRun, ResolvedOptions } from "../options.js";
import type { Recorder } from "../run/recorder.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { TargetInventory, Trigger } from "../types.js";
import type { RunQueue, RunRequest } from "./queue.js";
import type { Semaphore } from "./semaphore.js";

/** A managed target and what the reconciler remembers about it between runs. */
export interface TargetState {
  spec: ResolvedTarget;
  /** An interrupted run left the stack to recover before the next engine run. */
  needsRecovery: boolean;
  removed: boolean;
  /** A run that waited for a dependency; queued again when the dependency is ready. */
  deferred?: { readonly trigger: Trigger; readonly force: boolean };
}

/** Shared by the parts of one reconciler. */
export interface Runtime {
  readonly options: ResolvedOptions;
  readonly targets: ReadonlyMap<string, TargetState>;
  /** The run queue, as far as policies look at it. */
  readonly queue: Pick<RunQueue<unknown>, "busy">;
  readonly events: TypedEmitter<ReconcilerEvents>;
  /** Reads and writes status: the one place status is written. */
  readonly recorder: Recorder;
  /** Engine work (checkout, install, refresh, preview, up) across all targets. */
  readonly engineSlots: Semaphore;
  /** Who holds this reconciler's stack leases and owns its runs: `<hostname>:<pid>:<uuid>`. */
  readonly owner: string;
  /** Aborts every run when a stop's grace time ran out. */
  readonly shutdown: AbortSignal;
  /** Queues a run (no-op checks are the caller's). */
  enqueue(state: TargetState, request: RunRequest): QueuedRun;
  /** Stopping or stopped: nothing new is queued. */
  stopping(): boolean;
  /** Whether scheduled runs of a target are suspended. */
  isSuspended(name: string): boolean;
  /** A write for the target was refused: another replica owns it now (see `FencedError`). */
  fenced(target: string): void;
  /** Counts a decision and how long the request waited for it. */
  countDecision(requestedAt: number): void;
  /**
   * A run stored the target's inventory, read from the stack's state (its
   * resources with their outputs, and its secrets provider): the watches
   * follow what the target manages now.
   */
  inventoryRead?(
    state: TargetState,
    inventory: TargetInventory,
    resources: readonly StateResource[],
    secrets: StackState["secrets"],
  ): void;
  /**
   * A run refreshed every resource of the target, from `startedAt` on (epoch
   * milliseconds): the watches' changes seen before then start no drift check.
   */
  refreshed?(target: string, startedAt: number): void;
}
