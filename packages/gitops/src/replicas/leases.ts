/**
 * Stack leases across processes sharing a store: take one (waiting while
 * another run holds it, taking over from a holder that died), renew it while
 * the run goes on, release it at the end.
 */
import { rm } from "node:fs/promises";
import { isOwnerDead } from "../engine/process.js";
import { repoIdentity } from "../git/repo.js";
import { runTempRoot } from "../run/stackRequest.js";
import type { Runtime, TargetState } from "../schedule/runtime.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { StackLease } from "../types.js";
import { sleep } from "../util.js";

/** What taking a lease needs from the run. */
export interface LeaseHolder {
  readonly state: TargetState;
  readonly runId: string;
  readonly signal: AbortSignal;
  readonly progress: (step: string, message: string) => void;
  readonly warn: (error: unknown, message: string) => void;
}

/**
 * Takes the store's lease on the run's stack, waiting (polling with jitter)
 * while a run of this or another process sharing the store holds it. Returns
 * the function that releases it; until then the lease is renewed on a timer.
 */
export async function leaseStack(rt: Runtime, run: LeaseHolder): Promise<() => Promise<void>> {
  const { store, stackLeaseTtlMs: ttl } = rt.options;
  const target = run.state.spec;
  const request = { key: stackLockKey(target), owner: rt.owner, target: target.name, runId: run.runId };
  let waited = false;
  let previous: StackLease | undefined;
  for (;;) {
    run.signal.throwIfAborted();
    previous = await store.getStackLock(request.key);
    const holder = await store.tryLockStack(request, ttl);
    if (!holder) break;
    if (!waited) {
      waited = true;
      run.progress(
        "lock",
        `waiting for stack ${target.stack} held by run ${holder.runId} of target ${holder.target} (owner ${holder.owner})`,
      );
    }
    await sleep(250 + rt.options.random() * 750, run.signal);
  }
  // A holder that stopped renewing or died may have left the stack locked
  // with pending operations, and its run unfinished: recover first.
  const tookOver =
    previous !== undefined &&
    !(previous.owner === request.owner && previous.runId === request.runId) &&
    (previous.expiresAt <= rt.options.clock.now() || isOwnerDead(previous.owner));
  if (tookOver && previous) {
    run.state.needsRecovery = true;
    run.progress(
      "lock",
      `took over the lease on stack ${target.stack} from run ${previous.runId} of target ${previous.target} (owner ${previous.owner}), which stopped; recovering first`,
    );
  } else if (waited) {
    run.progress("lock", `took the lease on stack ${target.stack}`);
  }
  const scope = tookOver && previous ? [target.name, previous.target] : [target.name];
  await markInterruptedRuns(
    rt,
    scope,
    "a run of a process that stopped was interrupted; recovering before the next run",
  );
  // One renewal at a time: a slow database does not pile renewals up.
  let renewing: Promise<void> | undefined;
  const renewOnce = async () => {
    try {
      if (await store.renewStackLock(request.key, request.owner, ttl)) return;
      const holder = await store.tryLockStack(request, ttl);
      if (holder) {
        run.progress(
          "lock",
          `lost the lease on stack ${target.stack} to run ${holder.runId} of target ${holder.target} (owner ${holder.owner}); the backend's own lock still guards the update`,
        );
      }
    } catch (error) {
      run.warn(error, "could not renew the stack lease");
    }
  };
  const renew = setInterval(() => {
    if (renewing) return;
    renewing = renewOnce().finally(() => {
      renewing = undefined;
    });
  }, ttl / 4);
  renew.unref();
  return async () => {
    clearInterval(renew);
    await renewing;
    try {
      await store.unlockStack(request.key, request.owner);
    } catch (error) {
      run.warn(error, "could not release the stack lease; it lapses on its own");
    }
  };
}

/**
 * What a process that stopped in the middle of runs left for the reconciler
 * now holding the data directory: those runs of its targets, marked
 * interrupted so the next run recovers the stack (only its own targets':
 * another process sharing the store recovers its own, and replicas mark a
 * target's when they take it over, see `OwnershipStore.acquireTarget`), and
 * the runs' temporary directories.
 */
export async function recoverAfterStop(
  rt: Runtime,
  targets: readonly string[],
  replicas: boolean,
): Promise<void> {
  if (!replicas)
    await markInterruptedRuns(rt, targets, "a previous run was interrupted; recovering before the next run");
  await rm(runTempRoot(rt.options.dataDir), { recursive: true, force: true });
}

/**
 * Marks the runs of these targets that a process which stopped left
 * unfinished as interrupted (see `RunHistory.markInterrupted`); their stacks
 * are recovered before the next engine run.
 */
export async function markInterruptedRuns(
  rt: Runtime,
  targets: readonly string[],
  message: string,
): Promise<void> {
  for (const interrupted of await rt.options.store.markInterrupted(targets)) {
    const state = rt.targets.get(interrupted.target);
    if (state) state.needsRecovery = true;
    rt.options.logger.warn({ target: interrupted.target, runId: interrupted.id }, message);
  }
}

/**
 * Names a stack across processes: backend URL, project and stack name. The
 * project's name in Pulumi.yaml is only known after checkout, which happens
 * under the lease, so a project is named by its repository identity and
 * path; an inline program by its project name.
 */
export function stackLockKey(target: ResolvedTarget): string {
  const project = target.program
    ? `inline:${target.projectName ?? "inline"}`
    : `${repoIdentity(target.repo)}//${target.path}`;
  return `${target.backend.replace(/\/+$/, "")}#${project}#${target.stack}`;
}
