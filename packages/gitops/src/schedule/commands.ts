/**
 * The commands of the `Reconciler` API (reconcile, approve, promote,
 * rollback, suspend, resume) as data, carried out where the target is owned.
 * A single process carries them out at once. Replicas store each one in the
 * trigger inbox first, so a command answered 202 survives any replica dying;
 * the owner carries it out and marks it done once the run covering it ended.
 */
import { randomUUID } from "node:crypto";
import { ReconcilerStoppedError } from "../errors.js";
import type { ApprovalRequest, QueuedRun, ReconcileOptions } from "../options.js";
import { recordApproval, recordSuspension } from "../pipelines/approvals.js";
import { checkWho } from "../pipelines/promotion.js";
import { promoteNow, rollBackNow } from "../pipelines/promotions.js";
import type { ReplicaSet } from "../replicas/replicas.js";
import { suspendedStatus } from "../run/status.js";
import type { Store } from "../store/store.js";
import type { RunRecord, StoredTrigger, TargetStatus, TriggerCommand } from "../types.js";
import { sleep } from "../util.js";
import type { RunRequest } from "./queue.js";
import type { Runtime, TargetState } from "./runtime.js";

/** What the commands need of the reconciler. */
export interface CommandHost {
  readonly rt: Runtime;
  readonly replicas: ReplicaSet | undefined;
  /** @throws UnknownTargetError */
  require(name: string): TargetState;
}

/** What a command gave: the queued run, or the status (suspend, resume). */
export type CommandResult = { readonly run: QueuedRun } | { readonly status: TargetStatus };

/**
 * Carries out a command for a target this process owns.
 * @throws what the command's checks throw (nothing to approve, an unknown revision)
 */
export async function carryOut(
  host: CommandHost,
  state: TargetState,
  command: TriggerCommand,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const { rt } = host;
  const name = state.spec.name;
  const manual: RunRequest = { trigger: "manual", force: true };
  switch (command.kind) {
    case "reconcile": {
      const { trigger, force, override, pushed, requestedBy } = command;
      return {
        run: rt.enqueue(state, {
          trigger,
          force,
          ...(override ? { override } : {}),
          ...(requestedBy ? { requestedBy } : {}),
          ...(pushed ? { pushed } : {}),
          ...(signal ? { signal } : {}),
        }),
      };
    }
    case "approve": {
      const { revision, by, reason, onBehalfOf } = command;
      await recordApproval(rt, name, {
        ...(revision !== undefined ? { revision } : {}),
        ...(by !== undefined ? { by } : {}),
        ...(reason !== undefined ? { reason } : {}),
        ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
      });
      return { run: rt.enqueue(state, manual) };
    }
    case "promote":
    case "rollback": {
      const { kind, ...request } = command;
      await (kind === "promote" ? promoteNow : rollBackNow)(rt, state.spec, request);
      return { run: rt.enqueue(state, manual) };
    }
    case "suspend":
    case "resume":
      return { status: await recordSuspension(rt, name, command.kind === "suspend", whoOf(command)) };
  }
}

/** Checks a command as far as a replica that does not own the target can, without writing. */
async function check(host: CommandHost, state: TargetState, command: TriggerCommand): Promise<void> {
  const { rt } = host;
  if (command.kind === "approve") {
    const { kind: _k, ...request } = command;
    await recordApproval(rt, state.spec.name, request, true);
  } else if (command.kind === "promote") {
    const { kind: _k, ...request } = command;
    await promoteNow(rt, state.spec, request, true);
  } else if (command.kind === "rollback") {
    const { kind: _k, ...request } = command;
    await rollBackNow(rt, state.spec, request, true);
  } else if (
    (command.kind === "suspend" || command.kind === "resume") &&
    (command.by !== undefined || command.reason !== undefined)
  ) {
    checkWho(
      `${command.kind === "suspend" ? "suspension" : "resumption"} of "${state.spec.name}"`,
      "by",
      command,
    );
  }
}

/**
 * Serves a command: at once without replicas; with replicas, stored in the
 * inbox and carried out here when this replica owns the target, else by the
 * owner (the run then has the trigger's id until the owner's run is known).
 */
export async function command(
  host: CommandHost,
  name: string,
  command: TriggerCommand,
  signal?: AbortSignal,
  id: string = randomUUID(),
): Promise<CommandResult> {
  const state = host.require(name);
  const { replicas, rt } = host;
  const queues = command.kind !== "suspend" && command.kind !== "resume";
  if (queues && rt.stopping()) throw new ReconcilerStoppedError();
  if (!replicas) return carryOut(host, state, command, signal);
  // The checks read the statuses of the target and its upstream, which other replicas may own.
  const upstream = state.spec.promote ? [state.spec.promote.from] : [];
  await rt.recorder.refresh([name, ...upstream]);
  await check(host, state, command);
  const trigger = await rt.options.store.addTrigger({
    id,
    target: name,
    command,
    receivedBy: replicas.id,
  });
  if (replicas.owns(name)) {
    let result: CommandResult;
    try {
      result = await carryOut(host, state, command, signal);
    } catch (error) {
      replicas.track(trigger, Promise.resolve({ error: (error as Error).message }));
      throw error;
    }
    replicas.track(trigger, outcomeOf(result));
    return result;
  }
  rt.options.logger.debug(
    { target: name, trigger: trigger.id, kind: command.kind },
    "command stored for the owner",
  );
  if (command.kind === "suspend" || command.kind === "resume") {
    const before = rt.recorder.status(name);
    const who =
      command.by !== undefined
        ? {
            by: command.by,
            reason: command.reason ?? "",
            ...(command.onBehalfOf ? { onBehalfOf: command.onBehalfOf } : {}),
          }
        : undefined;
    return { status: suspendedStatus(before, command.kind === "suspend", rt.recorder.now(), who) };
  }
  return { run: { id: trigger.id, target: name, done: waitForTrigger(rt, trigger) } };
}

/** What marks a trigger done: the run that covered it once it ended, or at once for a command without a run. */
export function outcomeOf(result: CommandResult): Promise<{ runId?: string; error?: string }> {
  return "run" in result ? result.run.done.then((run) => ({ runId: run.id })) : Promise.resolve({});
}

/** Resolves with the run that covered a command carried out by another replica, polling the inbox. */
async function waitForTrigger(rt: Runtime, trigger: StoredTrigger): Promise<RunRecord> {
  const { store } = rt.options;
  for (;;) {
    if (rt.stopping())
      return unfinished(trigger, "this replica stopped; the owner still carries the command out");
    try {
      const done = await store.getTrigger(trigger.id);
      if (done?.doneAt) {
        const run = done.runId ? await store.getRun(done.runId) : undefined;
        return (
          run ?? {
            ...unfinished(trigger, done.error ?? ""),
            finishedAt: done.doneAt,
            ...(done.error ? { result: "failed" } : {}),
          }
        );
      }
    } catch {
      // The database is away: ask again (`done` never rejects).
    }
    await sleep(250);
  }
}

function unfinished(trigger: StoredTrigger, message: string): RunRecord {
  return {
    id: trigger.id,
    target: trigger.target,
    trigger: trigger.command.kind === "reconcile" ? trigger.command.trigger : "manual",
    startedAt: trigger.createdAt,
    result: "skipped",
    drift: false,
    log: message,
    ...(message ? { error: message } : {}),
  };
}

/** A command that queues a run (reconcile, approve, promote, rollback); see {@link command}. */
export async function runCommand(
  host: CommandHost,
  name: string,
  what: TriggerCommand,
  signal?: AbortSignal,
  id?: string,
): Promise<QueuedRun> {
  const result = await command(host, name, what, signal, id);
  if (!("run" in result)) throw new Error(`the command ${what.kind} queues no run`);
  return result.run;
}

/** A command that changes the status (suspend, resume); see {@link command}. */
export async function statusCommand(
  host: CommandHost,
  name: string,
  what: TriggerCommand,
): Promise<TargetStatus> {
  const result = await command(host, name, what);
  if (!("status" in result)) throw new Error(`the command ${what.kind} gives no status`);
  return result.status;
}

/**
 * The command of a reconcile request.
 * @throws SpecError for an override without who and why
 */
export function reconcileCommand(name: string, options: ReconcileOptions): TriggerCommand {
  const { override } = options;
  if (override !== undefined) checkWho(`run of "${name}"`, "override", override);
  const trigger = options.trigger ?? "manual";
  return {
    kind: "reconcile",
    trigger,
    force: options.force ?? trigger === "manual",
    ...(override ? { override: { by: override.by, reason: override.reason } } : {}),
    ...(options.pushedRevision ? { pushed: options.pushedRevision } : {}),
    ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
  };
}

/** The command of an approval (a revision as a string, for compatibility). */
export function approveCommand(request: ApprovalRequest | string): TriggerCommand {
  const { revision, by, reason, onBehalfOf } =
    typeof request === "string" ? ({ revision: request } as ApprovalRequest) : request;
  return {
    kind: "approve",
    ...(revision !== undefined ? { revision } : {}),
    ...(by !== undefined ? { by } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
  };
}

/** Who suspends or resumes, and why, as given. */
function whoOf(command: { readonly by?: string; readonly reason?: string; readonly onBehalfOf?: string }): {
  by?: string;
  reason?: string;
  onBehalfOf?: string;
} {
  return {
    ...(command.by !== undefined ? { by: command.by } : {}),
    ...(command.reason !== undefined ? { reason: command.reason } : {}),
    ...(command.onBehalfOf !== undefined ? { onBehalfOf: command.onBehalfOf } : {}),
  };
}

/** A run by its id, or by the id of the command (in the inbox) it covered once its owner recorded it. */
export async function findRun(store: Store, id: string): Promise<RunRecord | undefined> {
  const run = await store.getRun(id);
  if (run) return run;
  const runId = (await store.getTrigger(id))?.runId;
  return runId ? store.getRun(runId) : undefined;
}
