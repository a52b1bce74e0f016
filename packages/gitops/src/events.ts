// The reconciler's events (transitions only) and the small typed emitter that delivers them.
import type { ChangeCounts, EngineProgress } from "./engine/types.js";
import type { StallReason } from "./errors.js";
import type { PromotionRecord, RunResult, Trigger } from "./types.js";

/** Events a reconciler emits, by name. Transitions only: a steady state emits nothing. */
export interface ReconcilerEvents {
  /** A run left the queue and started. */
  "run.started": { readonly target: string; readonly runId: string; readonly trigger: Trigger };
  /** A step of a run began, or the engine reported progress. */
  "run.progress": {
    readonly target: string;
    readonly runId: string;
    readonly step: string;
    readonly message: string;
    readonly engine?: EngineProgress;
  };
  /** A run ended, whatever the result. */
  "run.finished": {
    readonly target: string;
    readonly runId: string;
    readonly result: RunResult;
    readonly revision?: string;
    readonly counts?: ChangeCounts;
    readonly drift: boolean;
    readonly durationMs: number;
    readonly error?: string;
  };
  /**
   * A run that reached the engine stored the target's inventory and what it
   * did to each resource (`Reconciler.resources`, `resourceHistory`): after
   * its `run.finished`.
   */
  "resources.recorded": { readonly target: string; readonly runId: string };
  /** Changes found without a new revision. */
  "drift.detected": { readonly target: string; readonly revision: string; readonly counts: ChangeCounts };
  /** A new revision reached the infrastructure. */
  "revision.applied": { readonly target: string; readonly revision: string };
  /** A safety gate refused a plan. */
  "gate.refused": {
    readonly target: string;
    readonly revision: string;
    readonly gate: string;
    readonly message: string;
  };
  /** The target stopped retrying until a new revision or an explicit trigger. */
  stalled: {
    readonly target: string;
    readonly revision?: string;
    readonly reason: StallReason;
    readonly message: string;
  };
  /** A target with `promote` was moved to a revision (automatically, by hand, or back). */
  promoted: PromotionRecord;
  /** The target is healthy again after a failure or stall. */
  recovered: { readonly target: string; readonly revision: string };
}

/** Name of a {@link ReconcilerEvents} event. */
export type ReconcilerEventName = keyof ReconcilerEvents;

/** A small typed emitter; a throwing listener never breaks a run. */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Subscribes to one event; returns the unsubscribe function. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch {
        // Listeners are observers; their failures are theirs.
      }
    }
  }
}
