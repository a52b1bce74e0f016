/**
 * The run queue: at most one run per target in progress and one queued behind
 * it (later requests coalesce into the queued one, keeping the most deliberate
 * trigger), served in arrival order, with a bound on how many runs decide at once.
 */
import { randomUUID } from "node:crypto";
import type { Clock, QueuedRun } from "../options.js";
import type { RunOverride, RunRecord, Trigger } from "../types.js";

/** What a run does: reconcile the stack with its ref, or destroy it (a removed target). */
export type RunKind = "reconcile" | "destroy";

/** A request for a run. */
export interface RunRequest {
  readonly kind?: RunKind;
  readonly trigger: Trigger;
  readonly force: boolean;
  readonly signal?: AbortSignal;
  readonly override?: RunOverride;
  /** The commit a push named (see `ReconcileOptions.pushedRevision`). */
  readonly pushed?: string;
  /** Who asked (see `ReconcileOptions.requestedBy`). */
  readonly requestedBy?: string;
  /**
   * A watch's drift check: refresh only these resources (URNs). Dropped when
   * the request joins a queued run that refreshes everything.
   */
  readonly refreshScope?: readonly string[];
}

/** A run waiting in the queue or in progress. */
export interface PendingRun {
  readonly id: string;
  /** When the request was made: the scheduler's tick, a webhook's arrival. */
  readonly requestedAt: number;
  kind: RunKind;
  trigger: Trigger;
  force: boolean;
  override?: RunOverride;
  /** The commit a push named; dropped when coalesced requests disagree (the ref is looked up). */
  pushed?: string;
  /** Everyone who asked for this run, coalesced requests too (four eyes refuses each). */
  readonly requestedBy: string[];
  /** A watch's drift check refreshes only these resources (see {@link RunRequest.refreshScope}). */
  refreshScope?: string[];
  readonly signals: AbortSignal[];
  readonly done: Promise<RunRecord>;
  readonly settle: (run: RunRecord) => void;
}

/** Which trigger a coalesced run reports: the most deliberate one asked for it. */
export const TRIGGER_RANK: Record<Trigger, number> = {
  interval: 0,
  startup: 1,
  resync: 1,
  watch: 1,
  schedule: 2,
  retry: 3,
  dependency: 4,
  promotion: 4,
  webhook: 5,
  manual: 6,
};

/** The more deliberate of two triggers. */
export function strongerTrigger(a: Trigger, b: Trigger): Trigger {
  return TRIGGER_RANK[b] > TRIGGER_RANK[a] ? b : a;
}

/** Triggers that only look for a new revision: a run of a new one is a full run whatever its scope. */
const REVISION_CHECKS: ReadonlySet<Trigger> = new Set(["interval", "startup"]);

/**
 * The refresh scope of a queued run a request joins: scopes add up; a check
 * for a new revision keeps the other's scope; anything else asks for a full
 * run (no scope).
 */
export function joinedScope(queued: PendingRun, request: RunRequest): string[] | undefined {
  const a = queued.force ? undefined : queued.refreshScope;
  const b = request.force ? undefined : request.refreshScope;
  if (a && b) return [...new Set([...a, ...b])];
  if (a && REVISION_CHECKS.has(request.trigger) && !request.force) return a;
  if (b && REVISION_CHECKS.has(queued.trigger) && !queued.force && queued.kind === "reconcile") return [...b];
  return undefined;
}

/** How the queue starts a run: `decided` frees the run's decision slot early (it now waits for a lease or an engine slot). */
export type Execute<R> = (target: string, run: PendingRun, decided: () => void) => Promise<R>;

/** A run record for a run that never started. */
export function skippedRun(target: string, run: PendingRun, reason: string, now: number): RunRecord {
  const at = new Date(now).toISOString();
  return {
    id: run.id,
    target,
    trigger: run.trigger,
    startedAt: at,
    finishedAt: at,
    result: "skipped",
    drift: false,
    log: reason,
  };
}

interface Slot {
  active?: PendingRun;
  pending?: PendingRun;
}

/** The per-target run queue with a shared bound on runs deciding at once. */
export class RunQueue<R = void> {
  readonly #slots = new Map<string, Slot>();
  readonly #ready: string[] = [];
  readonly #maxDeciding: number;
  readonly #execute: Execute<R>;
  readonly #afterRun: (target: string, outcome: R | undefined) => void;
  readonly #clock: Clock;
  #deciding = 0;
  #stopping = false;
  #idleWaiters: (() => void)[] = [];

  /**
   * @param maxDeciding - runs deciding at once; a run that decided to work and
   *   waits for a lease or an engine slot no longer counts
   * @param afterRun - called with what `execute` resolved to once the run is
   *   no longer in progress, before the next one starts
   */
  constructor(options: {
    readonly maxDeciding: number;
    readonly execute: Execute<R>;
    readonly afterRun: (target: string, outcome: R | undefined) => void;
    readonly clock: Clock;
  }) {
    this.#maxDeciding = options.maxDeciding;
    this.#execute = options.execute;
    this.#afterRun = options.afterRun;
    this.#clock = options.clock;
  }

  /** Queues a run, or joins the one queued for the target. */
  enqueue(target: string, request: RunRequest): QueuedRun {
    const slot = this.#slot(target);
    const queued = slot.pending;
    if (queued) {
      // Coalesce: the queued run takes the strongest request made of it.
      const scope = joinedScope(queued, request);
      if (scope) queued.refreshScope = scope;
      else delete queued.refreshScope;
      queued.force ||= request.force;
      queued.trigger = strongerTrigger(queued.trigger, request.trigger);
      if (request.signal) queued.signals.push(request.signal);
      if (request.override) queued.override ??= request.override;
      if (request.kind === "destroy") queued.kind = "destroy";
      if (queued.pushed !== request.pushed) delete queued.pushed;
      if (request.requestedBy && !queued.requestedBy.includes(request.requestedBy)) {
        queued.requestedBy.push(request.requestedBy);
      }
      return { id: queued.id, target, done: queued.done };
    }
    let settle!: (run: RunRecord) => void;
    const done = new Promise<RunRecord>((r) => {
      settle = r;
    });
    const run: PendingRun = {
      id: randomUUID(),
      requestedAt: this.#clock.now(),
      kind: request.kind ?? "reconcile",
      trigger: request.trigger,
      force: request.force,
      signals: request.signal ? [request.signal] : [],
      requestedBy: request.requestedBy ? [request.requestedBy] : [],
      ...(request.override ? { override: request.override } : {}),
      ...(request.pushed ? { pushed: request.pushed } : {}),
      ...(request.refreshScope ? { refreshScope: [...request.refreshScope] } : {}),
      done,
      settle,
    };
    slot.pending = run;
    if (!slot.active) this.#ready.push(target);
    this.#pump();
    return { id: run.id, target, done };
  }

  /** The run in progress for a target. */
  active(target: string): PendingRun | undefined {
    return this.#slots.get(target)?.active;
  }

  /** Whether a target has a run queued or in progress. */
  busy(target: string): boolean {
    const slot = this.#slots.get(target);
    return Boolean(slot?.active || slot?.pending);
  }

  /** Settles a target's queued run as skipped, with the reason as its log. */
  dropPending(target: string, reason: string): void {
    const slot = this.#slots.get(target);
    if (!slot?.pending) return;
    slot.pending.settle(skippedRun(target, slot.pending, reason, this.#clock.now()));
    slot.pending = undefined;
  }

  /** Forgets a target once its runs are over. */
  remove(target: string): void {
    this.dropPending(target, "the target was removed");
    this.#slots.delete(target);
    this.notifyIdle();
  }

  /** Runs waiting for a slot across all targets. */
  get depth(): number {
    return [...this.#slots.values()].filter((s) => s.pending).length;
  }

  /**
   * Waits for the runs in progress to finish, at most `graceMs`; past it
   * calls `cancel` (which aborts them) and waits for them to end.
   * Resolves `true` when every run finished on its own.
   */
  async drain(graceMs: number, cancel: () => void): Promise<boolean> {
    const active = [...this.#slots.values()].flatMap((s) => (s.active ? [s.active.done] : []));
    if (active.length === 0) return true;
    const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    if ((await Promise.race([Promise.all(active), grace])) !== "timeout") return true;
    cancel();
    await Promise.all(active);
    return false;
  }

  /** From now on queued runs are settled as skipped instead of started. */
  stop(): void {
    this.#stopping = true;
  }

  /** Resolves when no run is queued or in progress. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Wakes `whenIdle` waiters if the queue is idle. */
  notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #isIdle(): boolean {
    return [...this.#slots.values()].every((s) => !s.active && !s.pending);
  }

  #slot(target: string): Slot {
    let slot = this.#slots.get(target);
    if (!slot) {
      slot = {};
      this.#slots.set(target, slot);
    }
    return slot;
  }

  #pump(): void {
    while (this.#deciding < this.#maxDeciding && this.#ready.length > 0) {
      const target = this.#ready.shift() as string;
      const slot = this.#slots.get(target);
      if (!slot?.pending || slot.active) continue;
      if (this.#stopping) {
        this.dropPending(target, "the reconciler stopped");
        continue;
      }
      const run = slot.pending;
      slot.pending = undefined;
      slot.active = run;
      this.#deciding++;
      let counted = true;
      const decided = () => {
        if (!counted) return;
        counted = false;
        this.#deciding--;
        this.#pump();
      };
      let outcome: R | undefined;
      void this.#execute(target, run, decided)
        .then((result) => {
          outcome = result;
        })
        .finally(() => {
          if (counted) {
            counted = false;
            this.#deciding--;
          }
          slot.active = undefined;
          if (slot.pending) this.#ready.push(target);
          this.#afterRun(target, outcome);
          this.#pump();
          this.notifyIdle();
        });
    }
  }
}
