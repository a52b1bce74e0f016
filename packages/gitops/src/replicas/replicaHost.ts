/**
 * The reconciler's side of replication: what the replica set does to the
 * reconciler when it takes, releases or loses a target, or delivers a
 * command from the inbox; and who owns each target, for status reads.
 */

import { randomUUID } from "node:crypto";
import { ReconcilerStoppedError } from "../errors.js";
import type { QueuedRun } from "../options.js";
import type { RunEnd } from "../run/run.js";
import { type CommandHost, carryOut, outcomeOf, runCommand } from "../schedule/commands.js";
import type { RunQueue, RunRequest } from "../schedule/queue.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import type { Scheduler } from "../schedule/scheduler.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { Store } from "../store/store.js";
import type { RunRecord, TargetStatus } from "../types.js";
import { type ReplicaHost, ReplicaSet } from "./replicas.js";

/** The parts of a reconciler the replica set acts on. */
export interface ReplicaParts {
  readonly rt: Runtime;
  readonly targets: Map<string, TargetState>;
  readonly queue: Pick<RunQueue<unknown>, "busy" | "dropPending" | "active" | "remove">;
  readonly scheduler: Pick<Scheduler, "unschedule" | "remove">;
  readonly commands: CommandHost;
  /** Scheduling has started (and not stopped). */
  scheduling(): boolean;
  /** Starts a target's timers. */
  schedule(spec: ResolvedTarget): void;
}

/** The replica set of a reconciler whose options ask for replicas; `undefined` otherwise. */
export function createReplicas(parts: ReplicaParts): ReplicaSet | undefined {
  const { options, owner } = parts.rt;
  return options.replicas
    ? new ReplicaSet(options.store, owner, options.replicas, replicaHost(parts), options.logger)
    : undefined;
}

/** Schedules the targets this replica takes, stops those it gives up, carries out the inbox's commands. */
export function replicaHost(parts: ReplicaParts): ReplicaHost {
  const { rt, targets, queue, scheduler } = parts;
  const log = rt.options.logger;
  return {
    // While stopping, nothing is taken or released: the runs drain, then every lease is released at once.
    targets: () => (rt.stopping() ? [] : targets.keys()),
    busy: (name) => queue.busy(name),
    take: async (name, acquired) => {
      const state = targets.get(name);
      if (!state || !parts.scheduling()) return;
      // The previous owner wrote its status: read it before deciding anything for the target.
      await rt.recorder.refresh([name]);
      for (const run of acquired.interrupted) {
        state.needsRecovery = true;
        log.warn(
          { target: name, runId: run.id },
          "a run of a replica that stopped was interrupted; recovering before the next run",
        );
      }
      parts.schedule(state.spec);
      if (!rt.isSuspended(name)) rt.enqueue(state, { trigger: "startup", force: false });
    },
    refreshOthers: (others) => rt.recorder.refresh(others),
    drop: (name) => {
      scheduler.unschedule(name);
      queue.dropPending(name, "another replica owns the target now");
    },
    deliver: async (trigger) => {
      const state = targets.get(trigger.target);
      if (!state) return { error: `unknown target "${trigger.target}"` };
      if (rt.stopping()) return undefined;
      try {
        return await outcomeOf(await carryOut(parts.commands, state, trigger.command));
      } catch (error) {
        if (error instanceof ReconcilerStoppedError) return undefined;
        return { error: (error as Error).message };
      }
    },
  };
}

/** With replicas, adds who owns each target (from the leases; status documents never store it). */
export async function withOwners(
  store: Store,
  replicas: ReplicaSet | undefined,
  statuses: TargetStatus[],
): Promise<TargetStatus[]> {
  if (!replicas) return statuses;
  const names = statuses.length === 1 ? statuses.map((s) => s.name) : undefined;
  const owners = new Map((await store.listTargetLeases(names)).map((l) => [l.target, l.owner]));
  return statuses.map((s) => (owners.has(s.name) ? { ...s, owner: owners.get(s.name) as string } : s));
}

/**
 * Queues a run of a target here. A reconcile of a target another replica
 * owns — a follow-up of a run here: a dependent, a promotion, a dependency
 * catching up — goes to the owner through the inbox instead: queued here it
 * would only be skipped, and the owner would not look until its next interval.
 */
export function enqueueOwned(
  host: CommandHost,
  queue: RunQueue<RunEnd | undefined>,
  name: string,
  request: RunRequest,
): QueuedRun {
  const { replicas } = host;
  if (replicas && !replicas.owns(name) && (request.kind ?? "reconcile") === "reconcile") {
    const { trigger, force, override, pushed } = request;
    const id = randomUUID();
    const forwarded = runCommand(
      host,
      name,
      { kind: "reconcile", trigger, force, ...(override ? { override } : {}), ...(pushed ? { pushed } : {}) },
      undefined,
      id,
    );
    const done = forwarded.then(
      (run) => run.done,
      (error: unknown): RunRecord => {
        // `done` never rejects: a command that could not be stored is a failed, unrecorded run.
        const now = new Date().toISOString();
        const message = `could not hand the run to the owner: ${(error as Error).message}`;
        return {
          id,
          target: name,
          trigger,
          startedAt: now,
          finishedAt: now,
          result: "failed",
          drift: false,
          error: message,
          log: message,
        };
      },
    );
    return { id, target: name, done };
  }
  return queue.enqueue(name, ownedRequest(replicas, name, request));
}

/** A run request that also stops when this replica loses the target to another. */
export function ownedRequest(
  replicas: ReplicaSet | undefined,
  name: string,
  request: RunRequest,
): RunRequest {
  const lost = replicas?.signal(name);
  const signal = lost && request.signal ? AbortSignal.any([request.signal, lost]) : (lost ?? request.signal);
  return { ...request, ...(signal ? { signal } : {}) };
}

/** Statuses of the given targets in one store read (an empty one for a target never stored), with their owners. */
export async function readStatuses(
  rt: Runtime,
  replicas: ReplicaSet | undefined,
  names: readonly string[],
): Promise<TargetStatus[]> {
  const stored = new Map((await rt.options.store.listStatuses()).map((s) => [s.name, s]));
  return withOwners(
    rt.options.store,
    replicas,
    names.map((n) => stored.get(n) ?? rt.recorder.status(n)),
  );
}
