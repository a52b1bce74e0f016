import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Cron } from "croner";
import { type Logger, pino } from "pino";
import { type DataDirLock, lockDataDir } from "./dataDirLock.js";
import { discoverTargets, type TargetTemplate } from "./discovery.js";
import {
  type ApplyResult,
  type ChangeCounts,
  type Engine,
  type EngineProgress,
  type Plan,
  PulumiEngine,
  type StackRequest,
  sha256,
  stableJson,
} from "./engine.js";
import {
  CancelledError,
  DriftlessError,
  GateRefusedError,
  RetryableError,
  SpecError,
  StalledError,
} from "./errors.js";
import { type ReconcilerEventName, type ReconcilerEvents, TypedEmitter } from "./events.js";
import { checkGates } from "./gates.js";
import { type DependencyGraph, dependentsFirst, dependentsOf, validateGraph } from "./graph.js";
import { pathMatches } from "./http/push.js";
import { isOwnerDead, newOwnerId } from "./process.js";
import { checkPromotions, checkRequester, ordering, type PromotionRequest, soak } from "./promotion.js";
import { publicRepoUrl, Redactor, readSecret } from "./secrets.js";
import { Semaphore } from "./semaphore.js";
import { GitSource, type Source } from "./source.js";
import { type ResolvedPromotion, type ResolvedTarget, resolveTarget, type TargetSpec } from "./spec.js";
import {
  type Condition,
  type ConditionType,
  type PendingApproval,
  type PendingPromotion,
  type PromotionKind,
  type PromotionRecord,
  type RunOverride,
  type RunRecord,
  type RunResult,
  SqliteStore,
  type StackLease,
  type Store,
  type TargetStatus,
  type Trigger,
} from "./store.js";
import { TYPE_CHECK_ENV, type TypeCheck, typeCheckFor } from "./typecheck.js";
import { checkWindows } from "./windows.js";

export type { PromotionRequest } from "./promotion.js";

import { prepareDependencies } from "./workspace.js";

/** Config key prefix of dependency outputs (read by `dependencyOutputs` of `@driftless/core`). */
export const DEPENDENCY_CONFIG_PREFIX = "deps";

/** Environment variables the reconciler sets for every program (read by `@driftless/core` provenance). */
export const PROVENANCE_ENV = {
  repo: "DRIFTLESS_GIT_REPO",
  commit: "DRIFTLESS_GIT_COMMIT",
  path: "DRIFTLESS_GIT_PATH",
  stack: "DRIFTLESS_STACK",
} as const;

/** Options for {@link Reconciler.create}. Outside dependencies can be replaced (tests, scale-out). */
export interface ReconcilerOptions {
  /** Directory for mirrors, worktrees, the default state backend and the status database. */
  readonly dataDir: string;
  /** Targets to manage from the start. */
  readonly targets?: readonly TargetSpec[];
  /**
   * Monorepo entries that expand into one target per project directory of
   * their repository (`paths: "stacks/*"`), looked up once at creation.
   */
  readonly discover?: readonly TargetTemplate[];
  /** Most runs at once across all targets. @default 2 */
  readonly concurrency?: number;
  /** First retry delay of a retryable failure; doubles per attempt, with jitter. @default 5000 */
  readonly retryBaseMs?: number;
  /** Longest retry delay. @default 300000 */
  readonly retryMaxMs?: number;
  /** Status and history. @default SqliteStore at `<dataDir>/driftless.db` */
  readonly store?: Store;
  /** @default PulumiEngine, the Pulumi CLI on PATH */
  readonly engine?: Engine;
  /** @default GitSource over the system git */
  readonly source?: Source;
  /** @default pino at `info` (level from `DRIFTLESS_LOG_LEVEL`) to stderr */
  readonly logger?: Logger;
  /** Install the program's dependencies when its lockfile changed. @default true */
  readonly installDependencies?: boolean;
}

/** Options for one requested run. */
export interface ReconcileOptions {
  /** What asked for the run; recorded in history. @default "manual" */
  readonly trigger?: Trigger;
  /**
   * Run the engine (refresh + preview, and `up` in apply mode) even when the
   * revision is unchanged and no resync is due. @default true for manual runs
   */
  readonly force?: boolean;
  /** Cancels this run (through the engine when it is running). */
  readonly signal?: AbortSignal;
  /**
   * Apply even outside the target's change windows. Who and why are recorded
   * in the run's history row.
   */
  readonly override?: RunOverride;
}

/** The plan for a ref that is not applied (a branch or pull request head). */
export interface RefPreview {
  readonly target: string;
  readonly ref: string;
  readonly revision: string;
  readonly plan: Plan;
  /** Whether the program was type-checked, and how. */
  readonly typeCheck: TypeCheck;
}

/** Options for {@link Reconciler.previewRef}. */
export interface PreviewRefOptions {
  readonly signal?: AbortSignal;
  /** Called with each step and engine event, for progress display. */
  readonly onProgress?: (step: string, message: string) => void;
}

/** A run waiting in the queue or running. */
export interface QueuedRun {
  readonly id: string;
  readonly target: string;
  /** Settles when the run finished; never rejects. */
  readonly done: Promise<RunRecord>;
}

interface Pending {
  readonly id: string;
  /** When the request was made: the scheduler's tick, a webhook's arrival. */
  readonly requestedAt: number;
  trigger: Trigger;
  force: boolean;
  override?: RunOverride;
  readonly signals: AbortSignal[];
  readonly done: Promise<RunRecord>;
  readonly settle: (run: RunRecord) => void;
}

interface TargetState {
  spec: ResolvedTarget;
  active?: Pending;
  pending?: Pending;
  timer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  /** Runs a deferred change when its change window opens. */
  windowTimer?: NodeJS.Timeout;
  /** Checks again when the upstream's revision has soaked long enough to be promoted. */
  promoteTimer?: NodeJS.Timeout;
  cron?: Cron;
  attempts: number;
  needsRecovery: boolean;
  removed: boolean;
  /** A run that waited for a dependency; queued again when the dependency is ready. */
  deferred?: { readonly trigger: Trigger; readonly force: boolean };
}

interface RunContext {
  readonly target: ResolvedTarget;
  readonly run: Pending;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly redactor: Redactor;
  readonly lines: string[];
  status: TargetStatus;
  revision?: string;
  counts?: ChangeCounts;
  drift: boolean;
  /** Why the run waited instead of running (a dependency that is not ready). */
  deferredBy?: string;
  /** When the change window opens for a `deferred` run. */
  windowOpensAt?: Date;
  /** When the upstream's revision becomes due for promotion. */
  promotionDueAt?: Date;
  /** Digest of the dependency outputs passed as config, recorded once applied. */
  depsDigest?: string;
  /** The plan a `awaiting-approval` run holds. */
  approval?: PendingApproval;
  steps?: Plan["steps"];
  /** Waits for one of the reconciler's engine slots (released when the run ends). */
  acquireEngine?: () => Promise<void>;
}

const LOG_LINES = 200;
const DECIDE_CONCURRENCY = 32;

/** Which trigger a coalesced run reports: the most deliberate one asked for it. */
const TRIGGER_RANK: Record<Trigger, number> = {
  interval: 0,
  startup: 1,
  resync: 1,
  schedule: 2,
  retry: 3,
  dependency: 4,
  promotion: 4,
  webhook: 5,
  manual: 6,
};

/**
 * Continuous reconciliation of Pulumi stacks from Git.
 *
 * One run per target at a time; triggers during a run coalesce into one queued
 * run; at most `concurrency` runs at once, served in arrival order. A run is an
 * ordered list of steps — resolve, decide, checkout, prepare, recover, preview,
 * gates, apply — that stops at the first error or skip; status, history, events
 * and logs are recorded in `finally`.
 */
export class Reconciler {
  readonly #dataDir: string;
  readonly #dataDirLock: DataDirLock;
  readonly #store: Store;
  readonly #engine: Engine;
  readonly #source: Source;
  readonly #log: Logger;
  /** Engine work (checkout, install, refresh, preview, up) across all targets. */
  readonly #engineSlots: Semaphore;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #install: boolean;
  readonly #targets = new Map<string, TargetState>();
  readonly #ready: string[] = [];
  readonly #events = new TypedEmitter<ReconcilerEvents>();
  readonly #shutdown = new AbortController();
  #idleWaiters: (() => void)[] = [];
  // Decisions are cheap (one ref lookup), so many targets decide at once; only
  // those with work to do queue for an engine slot.
  #deciding = 0;
  #maxLatenessMs = 0;
  #decisions = 0;
  #scheduling = false;
  #closed = false;
  /** Set by stop(): queued runs are settled as skipped instead of started. */
  #stopping = false;
  /** Who holds this reconciler's stack leases and owns its runs: `<hostname>:<pid>:<uuid>`. */
  readonly #owner = newOwnerId();

  private constructor(options: ReconcilerOptions) {
    this.#dataDir = resolve(options.dataDir);
    this.#dataDirLock = lockDataDir(this.#dataDir);
    this.#store = options.store ?? new SqliteStore(join(this.#dataDir, "driftless.db"));
    this.#engine = options.engine ?? new PulumiEngine();
    this.#source = options.source ?? new GitSource({ dataDir: this.#dataDir });
    this.#log =
      options.logger ??
      pino({ level: process.env.DRIFTLESS_LOG_LEVEL ?? "info", base: undefined }, pino.destination(2));
    this.#engineSlots = new Semaphore(options.concurrency ?? 2);
    this.#retryBaseMs = options.retryBaseMs ?? 5000;
    this.#retryMaxMs = options.retryMaxMs ?? 300_000;
    this.#install = options.installDependencies ?? true;
  }

  /**
   * Opens the store, marks runs a crashed process left unfinished as
   * interrupted (their stacks are recovered before the next engine run) and
   * adds the given targets. Scheduling starts with {@link start}.
   */
  static async create(options: ReconcilerOptions): Promise<Reconciler> {
    if (!options || typeof options.dataDir !== "string" || options.dataDir === "") {
      throw new SpecError("Reconciler options", [{ path: "dataDir", message: "must be a directory path" }]);
    }
    if (
      options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    ) {
      throw new SpecError("Reconciler options", [
        { path: "concurrency", message: `must be a whole number of at least 1, got ${options.concurrency}` },
      ]);
    }
    const reconciler = new Reconciler(options);
    try {
      // Resolved together, so a target may depend on one listed after it.
      const resolved = new Map<string, ResolvedTarget>();
      const discovered = options.discover?.length
        ? await discoverTargets(options.discover, {
            source: reconciler.#source,
            dataDir: reconciler.#dataDir,
          })
        : [];
      for (const spec of [...(options.targets ?? []), ...discovered]) {
        const target = resolveTarget(spec, { dataDir: reconciler.#dataDir });
        if (resolved.has(target.name)) {
          throw new SpecError(`target "${target.name}"`, [
            { path: "name", message: `is used by more than one target` },
          ]);
        }
        resolved.set(target.name, target);
      }
      checkPromotions(resolved);
      validateGraph(new Map([...resolved].map(([name, t]) => [name, ordering(t)])));
      for (const target of resolved.values()) reconciler.#add(target);
    } catch (error) {
      // Bad targets leave nothing behind: no open store, no runs marked.
      if (!options.store) reconciler.#store.close();
      reconciler.#dataDirLock.release();
      throw error;
    }
    // Only its own targets' runs: another process sharing the store recovers its own.
    const interrupted = reconciler.#store.markInterrupted([...reconciler.#targets.keys()]);
    for (const run of interrupted) {
      const state = reconciler.#targets.get(run.target);
      if (state) state.needsRecovery = true;
      reconciler.#log.warn(
        { target: run.target, runId: run.id },
        "a previous run was interrupted; recovering before the next run",
      );
    }
    return reconciler;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends ReconcilerEventName>(event: K, listener: (payload: ReconcilerEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Validates and adds a target (or replaces one of the same name). Its
   * `dependsOn` must name targets already added and must not close a cycle.
   * @throws SpecError
   */
  addTarget(spec: TargetSpec): ResolvedTarget {
    const resolved = resolveTarget(spec, { dataDir: this.#dataDir });
    checkPromotions(new Map([...this.#targets].map(([n, t]) => [n, t.spec])).set(resolved.name, resolved));
    const graph = new Map(this.#graph());
    graph.set(resolved.name, ordering(resolved));
    validateGraph(graph);
    return this.#add(resolved);
  }

  #add(resolved: ResolvedTarget): ResolvedTarget {
    const existing = this.#targets.get(resolved.name);
    if (existing) {
      existing.spec = resolved;
      if (this.#scheduling) this.#schedule(existing);
      return resolved;
    }
    const state: TargetState = { spec: resolved, attempts: 0, needsRecovery: false, removed: false };
    this.#targets.set(resolved.name, state);
    if (!this.#store.getStatus(resolved.name)) {
      this.#store.putStatus({ name: resolved.name, conditions: [], updatedAt: new Date().toISOString() });
    }
    if (this.#scheduling) this.#schedule(state);
    return resolved;
  }

  /** The targets being managed, defaults resolved. */
  targets(): ResolvedTarget[] {
    return [...this.#targets.values()].map((t) => t.spec);
  }

  /** One target's resolved spec, or `undefined`. */
  target(name: string): ResolvedTarget | undefined {
    return this.#targets.get(name)?.spec;
  }

  /**
   * Stops managing a target. With `destroyOnRemove`, its stack is destroyed
   * first (after any run in progress); otherwise the infrastructure is left alone.
   * @throws DriftlessError when other targets depend on it (remove them first,
   *   or together with {@link removeTargets})
   */
  async removeTarget(name: string): Promise<RunRecord | undefined> {
    return (await this.removeTargets([name]))[0];
  }

  /**
   * Removes several targets, dependents before their dependencies, so stacks
   * with `destroyOnRemove` are destroyed in reverse dependency order. Stops at
   * the first destroy that fails (its dependencies are kept). Returns the
   * destroy runs, in the order they ran.
   * @throws DriftlessError when a target that stays depends on one removed
   */
  async removeTargets(names: readonly string[]): Promise<RunRecord[]> {
    for (const name of names) this.#require(name);
    const removing = new Set(names);
    const graph = this.#graph();
    for (const name of removing) {
      const staying = dependentsOf(graph, name).filter((d) => !removing.has(d));
      if (staying.length > 0) {
        throw new DriftlessError(
          `cannot remove target "${name}": ${staying.map((d) => `"${d}"`).join(", ")} depend${staying.length === 1 ? "s" : ""} on it; remove ${staying.length === 1 ? "it" : "them"} first or together`,
        );
      }
    }
    const records: RunRecord[] = [];
    for (const name of dependentsFirst(graph, [...removing])) {
      const destroyed = await this.#remove(name);
      if (destroyed) records.push(destroyed);
      if (destroyed && destroyed.result !== "destroyed") break;
    }
    return records;
  }

  async #remove(name: string): Promise<RunRecord | undefined> {
    const state = this.#require(name);
    this.#unschedule(state);
    let destroyed: RunRecord | undefined;
    if (state.spec.destroyOnRemove) {
      destroyed = await this.#enqueue(state, { trigger: "manual", force: true, destroy: true }).done;
      if (destroyed.result !== "destroyed") return destroyed;
    }
    await state.active?.done;
    state.pending?.settle(this.#skipped(name, state.pending, "the target was removed"));
    state.pending = undefined;
    state.removed = true;
    this.#targets.delete(name);
    this.#store.deleteTarget(name);
    this.#notifyIdle();
    return destroyed;
  }

  /** Queues a run and waits for it to finish. */
  async reconcile(name: string, options: ReconcileOptions = {}): Promise<RunRecord> {
    return this.request(name, options).done;
  }

  /**
   * Queues a run without waiting. A request while the target is running joins
   * the one queued run behind it (same id), so no trigger is lost and none doubles.
   */
  request(name: string, options: ReconcileOptions = {}): QueuedRun {
    const state = this.#require(name);
    const { override } = options;
    if (
      override !== undefined &&
      (typeof override?.by !== "string" ||
        override.by.trim() === "" ||
        typeof override.reason !== "string" ||
        override.reason.trim() === "")
    ) {
      throw new SpecError(`run of "${name}"`, [
        {
          path: "override",
          message: `must say who (\`by\`) and why (\`reason\`), got ${JSON.stringify(override)}`,
        },
      ]);
    }
    return this.#enqueue(state, {
      trigger: options.trigger ?? "manual",
      force: options.force ?? (options.trigger ?? "manual") === "manual",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(override ? { override: { by: override.by, reason: override.reason } } : {}),
    });
  }

  /**
   * Releases a plan awaiting approval, a revision that a safety gate refused or
   * whose ref was rewritten, and queues a run that applies it. A plan awaiting
   * approval is applied only while the ref still points at its revision and
   * the preview finds the same steps; otherwise the new plan awaits approval.
   * @default revision - the one awaiting approval, else the stalled one
   */
  approve(name: string, revision?: string): QueuedRun {
    const state = this.#require(name);
    const status = this.#status(name);
    const approved =
      revision ?? status.awaitingApproval?.revision ?? status.stalledRevision ?? status.lastAttemptedRevision;
    if (!approved) throw new DriftlessError(`target "${name}" has no revision waiting for approval`);
    this.#store.putStatus({ ...status, approvedRevision: approved, updatedAt: new Date().toISOString() });
    return this.#enqueue(state, { trigger: "manual", force: true });
  }

  /**
   * Promotes a revision to a target with `promote` now, without waiting for
   * the soak time or the upstream's health, and queues the run that applies it.
   * The revision must be one the upstream applied successfully.
   * @default options.revision - the upstream's last applied revision
   * @throws DriftlessError for a target without `promote`, or a revision the upstream never applied
   */
  promote(name: string, options: PromotionRequest): QueuedRun {
    const state = this.#require(name);
    const policy = state.spec.promote;
    if (!policy) {
      throw new DriftlessError(
        `target "${name}" has no \`promote\` policy; it applies its own ref "${state.spec.ref}"`,
      );
    }
    const who = checkRequester(`promotion of "${name}"`, options);
    const upstream = this.#status(policy.from);
    const revision = options.revision ?? upstream.lastAppliedRevision;
    if (!revision) throw new DriftlessError(`target "${policy.from}" has not applied a revision yet`);
    const applied = this.#store.appliedRevisions(policy.from, 1000);
    const match = applied.filter((r) => r.startsWith(revision));
    if (match.length !== 1) {
      throw new DriftlessError(
        `cannot promote revision ${JSON.stringify(revision)} to "${name}": ${
          match.length === 0
            ? `"${policy.from}" never applied it successfully`
            : `it matches ${match.length} revisions "${policy.from}" applied; give more of the SHA`
        } (recent: ${
          applied
            .slice(0, 5)
            .map((r) => r.slice(0, 12))
            .join(", ") || "none"
        })`,
      );
    }
    this.#recordPromotion(name, policy.from, match[0] as string, "manual", who);
    return this.#enqueue(state, { trigger: "manual", force: true });
  }

  /**
   * Moves a target with `promote` back to a revision it applied before and
   * queues the run that applies it. Automatic promotion then skips the revision
   * rolled back from until the upstream applies another one.
   * @default options.revision - the revision it applied before the current one
   * @throws DriftlessError for a target without `promote`, or a revision it never applied
   */
  rollback(name: string, options: PromotionRequest): QueuedRun {
    const state = this.#require(name);
    if (!state.spec.promote) {
      throw new DriftlessError(
        `target "${name}" follows its ref "${state.spec.ref}"; roll it back with \`git revert\` (rollback moves targets with \`promote\`)`,
      );
    }
    const who = checkRequester(`rollback of "${name}"`, options);
    const current = this.#status(name).lastAppliedRevision;
    const applied = this.#store.appliedRevisions(name, 1000);
    const candidates = options.revision
      ? applied.filter((r) => r.startsWith(options.revision as string))
      : applied.filter((r) => r !== current).slice(0, 1);
    if (candidates.length !== 1) {
      throw new DriftlessError(
        `cannot roll "${name}" back${options.revision ? ` to ${JSON.stringify(options.revision)}` : ""}: ${
          candidates.length === 0
            ? options.revision
              ? "it never applied that revision successfully"
              : "it has applied no other revision"
            : `${candidates.length} revisions match; give more of the SHA`
        } (applied: ${
          applied
            .slice(0, 5)
            .map((r) => r.slice(0, 12))
            .join(", ") || "none"
        })`,
      );
    }
    this.#recordPromotion(name, name, candidates[0] as string, "rollback", who);
    return this.#enqueue(state, { trigger: "manual", force: true });
  }

  /** A target's promotions and rollbacks, newest first. */
  promotions(name: string, limit = 50): PromotionRecord[] {
    this.#require(name);
    return this.#store.listPromotions(name, limit);
  }

  /**
   * Plans another ref (for example `refs/pull/7/head`) against the target's
   * stack without applying it: the ref is checked out into a scratch worktree,
   * previewed, and the worktree removed. A stack that had to be created for
   * the preview is removed again, so nothing is left behind.
   */
  async previewRef(name: string, ref: string, options: PreviewRefOptions = {}): Promise<RefPreview> {
    const { spec: target } = this.#require(name);
    const resolved = resolveTarget(
      { name: target.name, repo: target.repo, stack: target.stack, ref },
      { dataDir: this.#dataDir },
    );
    const source = { repo: target.repo, ref: resolved.ref, auth: target.auth };
    const progress = options.onProgress ?? (() => undefined);
    const revision = await this.#source.resolve(source);
    progress("resolve", `${ref} is at ${revision}`);
    const checkoutDir = join(this.#dataDir, "previews", `${target.name}-${randomUUID().slice(0, 8)}`);
    try {
      await this.#source.checkout(source, revision, checkoutDir);
      const projectDir = join(checkoutDir, target.path);
      if (!target.program && this.#install) {
        const prepared = await prepareDependencies(
          projectDir,
          options.signal ? { signal: options.signal } : {},
        );
        progress("prepare", `dependencies ${prepared.action}`);
      }
      const ctx = {
        target,
        revision,
        redactor: new Redactor(),
      };
      this.#collectSecrets(target, ctx.redactor);
      const base = this.#stackRequestFor(
        target,
        revision,
        target.program ? join(checkoutDir, ".driftless", "inline") : projectDir,
      );
      // A preview is where type errors belong: the program is type-checked as
      // `pulumi preview` would, whatever the target's runs do.
      const typeCheck = typeCheckFor(projectDir, target.program !== undefined);
      const request = typeCheck.checked ? { ...base, env: { ...base.env, ...TYPE_CHECK_ENV } } : base;
      progress("typecheck", typeCheck.detail);
      progress("preview", target.refresh ? "refresh and preview" : "preview");
      const plan = await this.#engine.preview(request, {
        refresh: target.refresh,
        ephemeral: true,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (event) =>
          progress(
            "engine",
            ctx.redactor.redact(
              event.kind === "resource"
                ? `${event.done ? "done" : "start"} ${event.op} ${event.urn}`
                : event.message.trim(),
            ),
          ),
      });
      return { target: target.name, ref, revision, plan, typeCheck };
    } finally {
      rmSync(checkoutDir, { recursive: true, force: true });
    }
  }

  /** Stops scheduled runs for a target (manual runs still work). */
  suspend(name: string): TargetStatus {
    return this.#setSuspended(name, true);
  }

  /** Resumes scheduled runs for a target. */
  resume(name: string): TargetStatus {
    return this.#setSuspended(name, false);
  }

  /** A target's status. @throws DriftlessError for an unknown target */
  status(name: string): TargetStatus {
    this.#require(name);
    return this.#status(name);
  }

  /** Status of every managed target, by name. */
  statuses(): TargetStatus[] {
    return [...this.#targets.keys()].sort().map((name) => this.#status(name));
  }

  /** The most recent runs of a target, newest first. */
  history(name: string, limit = 50): RunRecord[] {
    this.#require(name);
    return this.#store.listRuns(name, limit);
  }

  /** One run by id. */
  run(id: string): RunRecord | undefined {
    return this.#store.getRun(id);
  }

  /**
   * Scheduler health since the last call: how many decisions were made and
   * the longest wait from a request (a tick, a webhook) to its decision.
   * Resets the figures.
   */
  takeSchedulerStats(): { decisions: number; maxLatenessMs: number } {
    const stats = { decisions: this.#decisions, maxLatenessMs: this.#maxLatenessMs };
    this.#decisions = 0;
    this.#maxLatenessMs = 0;
    return stats;
  }

  /**
   * Resolves when no run is queued or in progress, including the runs that
   * finished runs queued for their dependents (a whole pipeline has settled).
   */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return [...this.#targets.values()].every((t) => !t.active && !t.pending);
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Runs waiting for a slot across all targets. */
  get queueDepth(): number {
    return [...this.#targets.values()].filter((t) => t.pending).length;
  }

  /** Whether the scheduler is running and the store open (for readiness probes). */
  get ready(): boolean {
    return this.#scheduling && this.#store.isOpen && !this.#closed;
  }

  /** Starts interval, resync and cron scheduling for every target, with an initial run each. */
  start(): void {
    if (this.#scheduling) return;
    this.#scheduling = true;
    for (const state of this.#targets.values()) {
      this.#schedule(state);
      if (!this.#isSuspended(state.spec.name)) this.#enqueue(state, { trigger: "startup", force: false });
    }
  }

  /**
   * Stops scheduling, lets runs in progress finish within `graceMs`, then
   * cancels them through the engine (so no stack stays locked) and closes the
   * store. Resolves `true` when every run finished on its own.
   */
  async stop(options: { readonly graceMs?: number } = {}): Promise<boolean> {
    this.#scheduling = false;
    this.#stopping = true;
    for (const state of this.#targets.values()) this.#unschedule(state);
    const active = [...this.#targets.values()].flatMap((t) => (t.active ? [t.active.done] : []));
    let clean = true;
    if (active.length > 0) {
      const grace = new Promise<"timeout">((r) =>
        setTimeout(() => r("timeout"), options.graceMs ?? 30_000).unref(),
      );
      if ((await Promise.race([Promise.all(active), grace])) === "timeout") {
        clean = false;
        this.#shutdown.abort(new CancelledError("the reconciler is shutting down"));
        await Promise.all(active);
      }
    }
    for (const state of this.#targets.values()) {
      state.pending?.settle(this.#skipped(state.spec.name, state.pending, "the reconciler stopped"));
      state.pending = undefined;
    }
    this.#closed = true;
    this.#store.close();
    this.#dataDirLock.release();
    this.#notifyIdle();
    return clean;
  }

  #require(name: string): TargetState {
    const state = this.#targets.get(name);
    if (!state) {
      const known = [...this.#targets.keys()].join(", ") || "none";
      throw new DriftlessError(`unknown target "${name}" (known: ${known})`);
    }
    return state;
  }

  #graph(): DependencyGraph {
    return new Map([...this.#targets].map(([name, t]) => [name, ordering(t.spec)]));
  }

  /**
   * Why a target cannot run yet: a dependency that is not Ready or still has a
   * run queued or in progress. `undefined` when every dependency is ready.
   */
  #blockingDependency(target: ResolvedTarget): string | undefined {
    for (const dep of target.dependsOn) {
      const state = this.#targets.get(dep);
      if (!state) return `dependency "${dep}" is not managed`;
      if (state.active || state.pending) return `dependency "${dep}" has a run in progress`;
      const ready = this.#status(dep).conditions.find((c) => c.type === "Ready");
      if (!ready?.status) {
        return `dependency "${dep}" is not ready${ready ? ` (${ready.reason})` : " (never applied)"}`;
      }
    }
    return undefined;
  }

  /**
   * A dependency (direct or further up) on the same repository and ref that
   * applied an older revision whose own files (its path and `watchPaths`)
   * changed since: it has not caught up with `revision` yet, so it is queued
   * and the dependent waits for it. A dependency at the same or a newer
   * revision, or whose files did not change, does not hold the dependent back.
   */
  async #dependencyBehind(target: ResolvedTarget, revision: string): Promise<string | undefined> {
    const source = { repo: target.repo, ref: target.ref, auth: target.auth };
    for (const dep of this.#upstreamOf(target)) {
      const state = this.#targets.get(dep);
      const applied = this.#status(dep).lastAppliedRevision;
      if (!state || !applied || applied === revision) continue;
      const spec = state.spec;
      if (publicRepoUrl(spec.repo) !== publicRepoUrl(target.repo) || spec.ref !== target.ref) continue;
      if (await this.#source.isAncestor?.(source, revision, applied)) continue;
      const changed = await this.#source.changedFiles(source, applied, revision);
      if (changed === undefined || ![spec.path, ...spec.watchPaths].some((p) => pathMatches(p, changed)))
        continue;
      if (!state.active && !state.pending && !state.removed && !this.#stopping) {
        this.#enqueue(state, { trigger: "dependency", force: false });
      }
      return `dependency "${dep}" applied ${applied.slice(0, 12)}, which is behind ${revision.slice(0, 12)} (its files changed); waiting for it to catch up`;
    }
    return undefined;
  }

  /** Every target a target depends on, directly or further up. */
  #upstreamOf(target: ResolvedTarget): Set<string> {
    const upstream = new Set<string>();
    const visit = (names: readonly string[]) => {
      for (const name of names) {
        if (upstream.has(name)) continue;
        upstream.add(name);
        visit(this.#targets.get(name)?.spec.dependsOn ?? []);
      }
    };
    visit(target.dependsOn);
    return upstream;
  }

  /**
   * After a run: dependents are queued when its outputs changed, and dependents
   * that waited for it are queued again once it is ready.
   */
  #afterRun(state: TargetState, outputsChanged: boolean, recorded: boolean): void {
    if (this.#stopping || this.#closed || state.removed) return;
    for (const name of dependentsOf(this.#graph(), state.spec.name)) {
      const dependent = this.#targets.get(name);
      if (!dependent || dependent.removed) continue;
      if (!dependent.spec.dependsOn.includes(state.spec.name)) {
        // A target promoting from this one looks at what it now holds (cheap: no Git, no engine).
        if (recorded && !this.#isSuspended(name))
          this.#enqueue(dependent, { trigger: "promotion", force: false });
        continue;
      }
      const waiting = dependent.deferred;
      if (outputsChanged && !this.#isSuspended(name)) {
        dependent.deferred = undefined;
        this.#enqueue(dependent, { trigger: "dependency", force: true });
      } else if (waiting && !this.#blockingDependency(dependent.spec)) {
        dependent.deferred = undefined;
        this.#enqueue(dependent, waiting);
      }
    }
    // Targets further down that waited for this one to catch up look again.
    for (const other of this.#targets.values()) {
      const waiting = other.deferred;
      if (!waiting || other.removed || other.active || other.pending) continue;
      if (!this.#upstreamOf(other.spec).has(state.spec.name)) continue;
      if (this.#blockingDependency(other.spec)) continue;
      other.deferred = undefined;
      this.#enqueue(other, waiting);
    }
  }

  /**
   * The revision a target with `promote` should be at. Promotes the upstream's
   * last applied revision first when it has soaked long enough and is not the
   * one rolled back from; otherwise notes when it will be due. `undefined`
   * before the first promotion.
   */
  #promotedRevision(ctx: RunContext): string | undefined {
    const { target } = ctx;
    const policy = target.promote as ResolvedPromotion;
    const status = this.#status(target.name);
    const upstream = this.#status(policy.from);
    const candidate = upstream.lastAppliedRevision;
    let waiting: PendingPromotion | undefined;
    if (candidate && candidate !== status.promotedRevision && candidate !== status.heldBackRevision) {
      const due = soak(policy, upstream);
      if ("dueAt" in due && due.dueAt <= Date.now()) {
        this.#recordPromotion(target.name, policy.from, candidate, "auto");
      } else {
        waiting = {
          revision: candidate,
          ...("dueAt" in due ? { dueAt: new Date(due.dueAt).toISOString() } : { waitingFor: due.waitingFor }),
        };
        if ("dueAt" in due) ctx.promotionDueAt = new Date(due.dueAt);
      }
    }
    const latest = this.#status(target.name);
    if (stableJson(latest.pendingPromotion) !== stableJson(waiting)) {
      const { pendingPromotion: _p, ...rest } = latest;
      this.#store.putStatus({
        ...rest,
        ...(waiting ? { pendingPromotion: waiting } : {}),
        updatedAt: new Date().toISOString(),
      });
    }
    ctx.status = this.#status(target.name);
    return ctx.status.promotedRevision;
  }

  #recordPromotion(
    name: string,
    source: string,
    revision: string,
    kind: PromotionKind,
    who?: { by: string; reason: string },
  ): void {
    const status = this.#status(name);
    const promotion: PromotionRecord = {
      id: randomUUID(),
      target: name,
      source,
      revision,
      ...(status.lastAppliedRevision ? { previousRevision: status.lastAppliedRevision } : {}),
      kind,
      ...(who ?? {}),
      at: new Date().toISOString(),
    };
    this.#store.recordPromotion(promotion);
    const { heldBackRevision: _h, pendingPromotion: _p, ...rest } = status;
    const heldBack =
      kind === "rollback"
        ? status.lastAppliedRevision
        : kind === "auto" && status.heldBackRevision !== revision
          ? status.heldBackRevision
          : undefined;
    this.#store.putStatus({
      ...rest,
      promotedRevision: revision,
      ...(heldBack ? { heldBackRevision: heldBack } : {}),
      updatedAt: promotion.at,
    });
    this.#log.info(
      { target: name, revision, kind, from: source, ...(who ?? {}) },
      `${kind === "rollback" ? "rolled back" : "promoted"} to ${revision.slice(0, 12)}`,
    );
    this.#events.emit("promoted", promotion);
  }

  /**
   * Each dependency's last outputs as plain config: `deps.<dependency>` holds
   * them as one JSON object (read typed with `dependencyOutputs` of
   * `@driftless/core`), `deps.<dependency>.<output>` each one (strings as they
   * are, other values JSON-encoded). Secrets are left out.
   */
  #dependencyConfig(target: ResolvedTarget): Record<string, string> {
    const config: Record<string, string> = {};
    for (const dep of target.dependsOn) {
      const outputs = this.#status(dep).outputs;
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

  #status(name: string): TargetStatus {
    return this.#store.getStatus(name) ?? { name, conditions: [], updatedAt: new Date().toISOString() };
  }

  #isSuspended(name: string): boolean {
    const status = this.#status(name);
    const condition = status.conditions.find((c) => c.type === "Suspended");
    return condition ? condition.status : (this.#targets.get(name)?.spec.suspend ?? false);
  }

  #setSuspended(name: string, suspended: boolean): TargetStatus {
    this.#require(name);
    const status = this.#status(name);
    const next: TargetStatus = {
      ...status,
      conditions: setCondition(
        status.conditions,
        "Suspended",
        suspended,
        suspended ? "Suspended" : "Resumed",
        suspended ? "scheduled runs are suspended" : "scheduled runs resumed",
      ),
      updatedAt: new Date().toISOString(),
    };
    this.#store.putStatus(next);
    return next;
  }

  // ---- scheduling -----------------------------------------------------------

  #schedule(state: TargetState): void {
    this.#unschedule(state);
    const { spec } = state;
    // A change deferred for its window (by this process or one before it) still runs when it opens.
    const deferredUntil = this.#status(spec.name).deferredUntil;
    if (deferredUntil) this.#scheduleWindow(state, new Date(deferredUntil));
    const tick = () => {
      const delay = spec.intervalMs * (1 + Math.random() * spec.jitter);
      state.timer = setTimeout(() => {
        if (!this.#isSuspended(spec.name)) this.#enqueue(state, { trigger: "interval", force: false });
        tick();
      }, delay);
      state.timer.unref();
    };
    tick();
    if (spec.schedule) {
      state.cron = new Cron(spec.schedule, { unref: true }, () => {
        if (!this.#isSuspended(spec.name)) this.#enqueue(state, { trigger: "schedule", force: true });
      });
    }
  }

  #unschedule(state: TargetState): void {
    clearTimeout(state.timer);
    clearTimeout(state.retryTimer);
    clearTimeout(state.windowTimer);
    state.windowTimer = undefined;
    clearTimeout(state.promoteTimer);
    state.promoteTimer = undefined;
    state.cron?.stop();
    state.timer = undefined;
    state.retryTimer = undefined;
    state.cron = undefined;
  }

  // ---- queue ----------------------------------------------------------------

  #enqueue(
    state: TargetState,
    request: {
      trigger: Trigger;
      force: boolean;
      signal?: AbortSignal;
      destroy?: boolean;
      override?: RunOverride;
    },
  ): QueuedRun & { destroy?: boolean } {
    if (this.#closed || this.#stopping) throw new DriftlessError("the reconciler is stopped");
    if (state.pending) {
      // Coalesce: the queued run takes the strongest request made of it.
      state.pending.force ||= request.force;
      if (TRIGGER_RANK[request.trigger] > TRIGGER_RANK[state.pending.trigger])
        state.pending.trigger = request.trigger;
      if (request.signal) state.pending.signals.push(request.signal);
      if (request.override) state.pending.override ??= request.override;
      if (request.destroy) (state.pending as Pending & { destroy?: boolean }).destroy = true;
      return { id: state.pending.id, target: state.spec.name, done: state.pending.done };
    }
    let settle!: (run: RunRecord) => void;
    const done = new Promise<RunRecord>((r) => {
      settle = r;
    });
    const pending: Pending & { destroy?: boolean } = {
      id: randomUUID(),
      requestedAt: Date.now(),
      trigger: request.trigger,
      force: request.force,
      signals: request.signal ? [request.signal] : [],
      ...(request.override ? { override: request.override } : {}),
      done,
      settle,
      ...(request.destroy ? { destroy: true } : {}),
    };
    state.pending = pending;
    if (!state.active) this.#ready.push(state.spec.name);
    this.#pump();
    return { id: pending.id, target: state.spec.name, done };
  }

  #pump(): void {
    while (this.#deciding < DECIDE_CONCURRENCY && this.#ready.length > 0) {
      const name = this.#ready.shift() as string;
      const state = this.#targets.get(name);
      if (!state?.pending || state.active) continue;
      if (this.#stopping) {
        state.pending.settle(this.#skipped(name, state.pending, "the reconciler stopped"));
        state.pending = undefined;
        continue;
      }
      const run = state.pending;
      state.pending = undefined;
      state.active = run;
      this.#deciding++;
      let outcome = { outputsChanged: false, recorded: false };
      void this.#execute(state, run)
        .then((result) => {
          outcome = result;
        })
        .finally(() => {
          this.#deciding--;
          state.active = undefined;
          if (state.pending) this.#ready.push(name);
          this.#afterRun(state, outcome.outputsChanged, outcome.recorded);
          this.#pump();
          this.#notifyIdle();
        });
    }
  }

  // ---- one run --------------------------------------------------------------

  /** Runs one queued run to its end; resolves whether it was recorded and the stack's outputs changed. */
  async #execute(
    state: TargetState,
    run: Pending & { destroy?: boolean },
  ): Promise<{ outputsChanged: boolean; recorded: boolean }> {
    const target = state.spec;
    const started = Date.now();
    const timeout = AbortSignal.timeout(target.timeoutMs);
    const signal = AbortSignal.any([timeout, this.#shutdown.signal, ...run.signals]);
    const redactor = new Redactor();
    const lines: string[] = [];
    const log = this.#log.child({ target: target.name, runId: run.id });
    const ctx: RunContext = {
      target,
      run,
      signal,
      log,
      redactor,
      lines,
      status: this.#status(target.name),
      drift: false,
    };
    const previousOutputs = ctx.status.outputs;
    let result: RunResult = "failed";
    let error: unknown;
    let recorded = false;
    let releaseEngine: (() => void) | undefined;
    let releaseStack: (() => void) | undefined;
    ctx.acquireEngine = async () => {
      // The stack first: a run waiting for another process does not hold an engine slot.
      releaseStack ??= await this.#leaseStack(ctx, state);
      releaseEngine ??= await this.#engineSlots.acquire(signal);
    };
    const record = (startRecord: boolean) => {
      if (startRecord && !recorded) {
        recorded = true;
        this.#store.startRun(
          {
            id: run.id,
            target: target.name,
            trigger: run.trigger,
            ...(ctx.revision ? { revision: ctx.revision } : {}),
            startedAt: new Date(started).toISOString(),
            drift: false,
            log: "",
            ...(run.override ? { override: run.override } : {}),
          },
          this.#owner,
        );
        const status = this.#status(target.name);
        this.#store.putStatus({
          ...status,
          conditions: setCondition(
            status.conditions,
            "Reconciling",
            true,
            "Progressing",
            `run ${run.id} in progress`,
          ),
          updatedAt: new Date().toISOString(),
        });
        this.#events.emit("run.started", { target: target.name, runId: run.id, trigger: run.trigger });
      }
    };
    try {
      this.#collectSecrets(target, redactor);
      result = run.destroy ? await this.#destroy(ctx, record) : await this.#reconcile(ctx, state, record);
      if (result !== "skipped") state.attempts = 0;
    } catch (caught) {
      error = caught;
      result =
        caught instanceof CancelledError || signal.aborted
          ? "cancelled"
          : caught instanceof StalledError
            ? "stalled"
            : "failed";
      if (timeout.aborted && result === "cancelled") {
        error = new CancelledError(`the run exceeded its timeout of ${Math.round(target.timeoutMs / 1000)}s`);
      }
      record(true);
    } finally {
      releaseEngine?.();
      releaseStack?.();
    }
    const message = error
      ? redactor.redact(error instanceof Error ? error.message : String(error))
      : undefined;
    const finished: RunRecord = {
      id: run.id,
      target: target.name,
      trigger: run.trigger,
      ...(ctx.revision ? { revision: ctx.revision } : {}),
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      result,
      ...(ctx.counts ? { counts: ctx.counts } : {}),
      drift: ctx.drift,
      ...(message ? { error: message } : {}),
      log: redactor.redact(lines.slice(-LOG_LINES).join("\n")),
      ...(run.override ? { override: run.override } : {}),
      ...(ctx.steps ? { plan: ctx.steps } : {}),
    };
    if (recorded) {
      this.#store.finishRun(finished);
      this.#finishStatus(ctx, finished, error);
      if (message) log.error({ revision: ctx.revision, result }, message);
      else log.info({ revision: ctx.revision, result, counts: ctx.counts }, `run ${result}`);
      this.#events.emit("run.finished", {
        target: target.name,
        runId: run.id,
        result,
        ...(ctx.revision ? { revision: ctx.revision } : {}),
        ...(ctx.counts ? { counts: ctx.counts } : {}),
        drift: ctx.drift,
        durationMs: Date.now() - started,
        ...(message ? { error: message } : {}),
      });
    }
    if ((result === "failed" || (result === "cancelled" && timeout.aborted)) && this.#scheduling) {
      this.#scheduleRetry(state, error);
    }
    if (ctx.deferredBy) this.#defer(state, run, ctx.deferredBy);
    if (result === "deferred" && ctx.windowOpensAt && this.#scheduling) {
      this.#scheduleWindow(state, ctx.windowOpensAt);
    }
    // Applied, one way or another: the window timer of an older deferral has nothing left to do.
    if (result === "applied" || result === "drift-corrected" || result === "unchanged") {
      clearTimeout(state.windowTimer);
      state.windowTimer = undefined;
    }
    if (ctx.promotionDueAt && this.#scheduling) this.#schedulePromotion(state, ctx.promotionDueAt);
    run.settle(ctx.deferredBy ? { ...finished, log: `deferred: ${ctx.deferredBy}` } : finished);
    const outputsChanged =
      (result === "applied" || result === "drift-corrected") &&
      ctx.status.outputs !== undefined &&
      stableJson(ctx.status.outputs) !== stableJson(previousOutputs ?? {});
    return { outputsChanged, recorded };
  }

  /** Parks a run until its dependencies are ready; the status says why (not a failure). */
  #defer(state: TargetState, run: Pending, reason: string): void {
    const previous = state.deferred;
    state.deferred = {
      trigger:
        previous && TRIGGER_RANK[previous.trigger] > TRIGGER_RANK[run.trigger]
          ? previous.trigger
          : run.trigger,
      force: run.force || (previous?.force ?? false),
    };
    const status = this.#status(state.spec.name);
    this.#store.putStatus({
      ...status,
      conditions: setCondition(status.conditions, "Ready", false, "DependencyNotReady", reason),
      updatedAt: new Date().toISOString(),
    });
    this.#log.info({ target: state.spec.name, runId: run.id }, `run deferred: ${reason}`);
  }

  #collectSecrets(target: ResolvedTarget, redactor: Redactor): void {
    for (const [key, source] of Object.entries(target.secretConfig))
      redactor.add(readSecret(source, `secretConfig.${key}`));
    if (target.auth.token) redactor.add(readSecret(target.auth.token, "auth.token"));
    redactor.add(readSecret(target.passphrase, "passphrase"));
  }

  #progress(ctx: RunContext, step: string, message: string, engine?: EngineProgress): void {
    const line = `${new Date().toISOString()} [${step}] ${ctx.redactor.redact(message)}`;
    ctx.lines.push(line);
    if (ctx.lines.length > LOG_LINES * 2) ctx.lines.splice(0, ctx.lines.length - LOG_LINES);
    ctx.log.debug({ revision: ctx.revision, step }, ctx.redactor.redact(message));
    this.#events.emit("run.progress", {
      target: ctx.target.name,
      runId: ctx.run.id,
      step,
      message: ctx.redactor.redact(message),
      ...(engine ? { engine } : {}),
    });
  }

  #stackRequest(ctx: RunContext, workDir: string): StackRequest {
    return this.#stackRequestFor(ctx.target, ctx.revision, workDir);
  }

  #stackRequestFor(
    target: ResolvedTarget,
    revision: string | undefined,
    workDir: string,
    deps: Record<string, string> = this.#dependencyConfig(target),
  ): StackRequest {
    const secretConfig = Object.fromEntries(
      Object.entries(target.secretConfig).map(([k, v]) => [k, readSecret(v, `secretConfig.${k}`)]),
    );
    return {
      workDir,
      stack: target.stack,
      ...(target.program ? { program: target.program } : {}),
      ...(target.projectName ? { projectName: target.projectName } : {}),
      backend: target.backend,
      secretsProvider: target.secretsProvider,
      env: {
        // TypeScript programs are transpiled without a type check (several times
        // faster to start); type errors belong in CI and plan-on-PR, and a
        // target can turn checking back on with this variable in its `env`.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...target.env,
        PULUMI_CONFIG_PASSPHRASE: readSecret(target.passphrase, "passphrase"),
        [PROVENANCE_ENV.repo]: publicRepoUrl(target.repo),
        [PROVENANCE_ENV.path]: target.path,
        [PROVENANCE_ENV.stack]: target.stack,
        ...(revision ? { [PROVENANCE_ENV.commit]: revision } : {}),
      },
      // The target's own config wins over a dependency's output of the same key.
      config: { ...deps, ...target.config },
      secretConfig,
    };
  }

  #engineOptions(ctx: RunContext, refresh: boolean) {
    return {
      refresh,
      signal: ctx.signal,
      onProgress: (event: EngineProgress) => {
        const text =
          event.kind === "resource"
            ? `${event.done ? "done" : "start"} ${event.op} ${event.urn}`
            : `${event.severity}: ${event.message.trim()}`;
        this.#progress(ctx, "engine", text, event);
      },
    };
  }

  async #reconcile(
    ctx: RunContext,
    state: TargetState,
    record: (start: boolean) => void,
  ): Promise<RunResult> {
    const { target, run } = ctx;
    const status = ctx.status;
    const source = { repo: target.repo, ref: target.ref, auth: target.auth };

    // resolve: one round trip to learn the ref's commit. Scheduled checks share
    // a recent answer for the same repository and ref; pushes and people do not.
    // A promoted target takes its revision from its upstream instead.
    const shared = run.trigger === "interval" || run.trigger === "startup" || run.trigger === "schedule";
    const revision = target.promote
      ? this.#promotedRevision(ctx)
      : await this.#source.resolve(
          source,
          shared ? { maxAgeMs: Math.min(5000, target.intervalMs / 10) } : {},
        );
    if (revision === undefined) return "skipped";
    ctx.revision = revision;
    this.#decisions++;
    this.#maxLatenessMs = Math.max(this.#maxLatenessMs, Date.now() - run.requestedAt);

    // decide: an unchanged, healthy revision with no resync due never starts the engine.
    const now = Date.now();
    const approved = status.approvedRevision === revision;
    const resyncDue =
      !status.lastDriftCheckAt || now - Date.parse(status.lastDriftCheckAt) >= target.resyncMs;
    if (!run.force && !approved && status.stalledRevision === revision) return "skipped";
    // A plan waiting for a person, or for its change window, is not planned
    // again on every check; a new revision, an approval or the window's timer is.
    if (!run.force && !approved && status.awaitingApproval?.revision === revision) return "skipped";
    if (
      !run.force &&
      status.deferredUntil &&
      now < Date.parse(status.deferredUntil) &&
      status.lastAttemptedRevision === revision
    ) {
      return "skipped";
    }
    const current =
      target.mode === "apply"
        ? status.lastAppliedRevision === revision
        : status.lastAttemptedRevision === revision;
    if (!run.force && !approved && current && !resyncDue && !state.needsRecovery) return "skipped";

    // dependencies: only a run with work to do waits for them, so a quiet
    // check never flips the status.
    const blocker = this.#blockingDependency(target) ?? (await this.#dependencyBehind(target, revision));
    if (blocker) {
      ctx.deferredBy = blocker;
      return "skipped";
    }

    await ctx.acquireEngine?.();
    record(true);
    this.#progress(ctx, "resolve", `${target.ref} is at ${revision}`);

    // checkout: the exact commit, refusing a rewritten ref unless approved.
    const checkoutDir = join(this.#dataDir, "work", target.name);
    // A promoted revision may go backwards (a rollback); it was checked where it came from.
    await this.#source.checkout(
      source,
      revision,
      checkoutDir,
      approved || target.promote ? undefined : status.lastAppliedRevision,
    );
    const projectDir = join(checkoutDir, target.path);
    this.#progress(ctx, "checkout", `checked out ${revision.slice(0, 12)} into ${projectDir}`);

    // prepare: dependencies only when the lockfile changed.
    if (!target.program && this.#install) {
      const prepared = await prepareDependencies(projectDir, { signal: ctx.signal });
      this.#progress(
        ctx,
        "prepare",
        `dependencies ${prepared.action}${prepared.lockfile ? ` (${prepared.lockfile})` : ""}`,
      );
    }

    const workDir = target.program ? join(this.#dataDir, "inline", target.name) : projectDir;
    // Outputs of dependencies reach the program as config; when they changed,
    // an `up` is due even if no resource changes (the stack's outputs may).
    const deps = this.#dependencyConfig(target);
    const request = this.#stackRequestFor(target, revision, workDir, deps);
    ctx.depsDigest = Object.keys(deps).length > 0 ? sha256(stableJson(deps)).slice(0, 16) : undefined;

    // recover: what an interrupted run left behind.
    if (state.needsRecovery) {
      const actions = await this.#engine.recover(request, this.#engineOptions(ctx, false));
      for (const action of actions) this.#progress(ctx, "recover", action);
      state.needsRecovery = false;
    }

    // approved plan: a person approved the plan this target holds; while the
    // revision and the stack's state are as they were when it was made, exactly
    // that plan is applied (`up --plan`: the engine refuses anything else).
    const held = status.awaitingApproval;
    let replanned = false;
    if (
      approved &&
      held?.revision === revision &&
      held.planFile &&
      held.stateVersion &&
      this.#engine.stateVersion
    ) {
      const version = await this.#engine.stateVersion(request);
      if (version === held.stateVersion && existsSync(held.planFile)) {
        ctx.counts = held.counts;
        if (this.#outsideWindow(ctx)) return "deferred";
        this.#progress(
          ctx,
          "apply",
          `up with the plan approved from run ${held.runId.slice(0, 8)} (state ${version}, ${formatCounts(held.counts)})`,
        );
        // No refresh: it would change the state the plan was made against.
        const applied = await this.#engine.up(request, {
          ...this.#engineOptions(ctx, false),
          plan: held.planFile,
        });
        return this.#applied(ctx, applied);
      }
      replanned = true;
      this.#progress(
        ctx,
        "approval",
        version === held.stateVersion
          ? "the approved plan file is gone; planning again"
          : `the stack's state changed since the plan was made (${held.stateVersion} → ${version}); planning again`,
      );
    }

    // preview: what would change, after refreshing from the real infrastructure.
    // A target that may need approval saves the engine's plan to apply later.
    const planFile =
      target.requireApproval !== "never" && target.mode === "apply"
        ? join(this.#dataDir, "plans", target.name, `${run.id}.json`)
        : undefined;
    if (planFile) mkdirSync(dirname(planFile), { recursive: true });
    this.#progress(ctx, "preview", target.refresh ? "refresh and preview" : "preview");
    const plan: Plan = await this.#engine.preview(request, {
      ...this.#engineOptions(ctx, target.refresh),
      ...(planFile ? { savePlan: planFile } : {}),
    });
    ctx.counts = plan.counts;
    ctx.drift = plan.changes && status.lastAppliedRevision === revision;
    this.#progress(ctx, "preview", `plan: ${formatCounts(plan.counts)}${ctx.drift ? " (drift)" : ""}`);
    if (ctx.drift)
      this.#events.emit("drift.detected", { target: target.name, revision, counts: plan.counts });

    const keepPlan = plan.changes && needsApproval(target.requireApproval, plan);
    if (planFile && !keepPlan) rmSync(planFile, { force: true });
    if (target.mode === "preview") return "planned";
    if (target.mode === "detect")
      return ctx.drift ? "drift-detected" : plan.changes ? "planned" : "unchanged";
    const depsChanged = ctx.depsDigest !== undefined && ctx.depsDigest !== status.appliedDepsDigest;
    if (!plan.changes && !depsChanged) return "unchanged";
    if (!plan.changes)
      this.#progress(ctx, "preview", "dependency outputs changed; up to update the stack outputs");

    // gates: refuse destructive or empty plans unless approved.
    if (!approved) {
      const refusal = checkGates(plan, target.gates);
      if (refusal) {
        if (planFile) rmSync(planFile, { force: true });
        this.#events.emit("gate.refused", {
          target: target.name,
          revision,
          gate: refusal.gate,
          message: refusal.message,
        });
        throw new GateRefusedError(refusal.gate, refusal.message);
      }
    }

    // approval: hold the plan for a person unless this exact plan was approved.
    const digest = planDigest(plan);
    const approvedPlan = approved && !replanned && (held?.revision !== revision || held.digest === digest);
    if (keepPlan && !approvedPlan) {
      const stateVersion = planFile ? await this.#engine.stateVersion?.(request) : undefined;
      ctx.approval = {
        revision,
        runId: run.id,
        counts: plan.counts,
        digest,
        plannedAt: new Date().toISOString(),
        ...(planFile && existsSync(planFile) ? { planFile } : {}),
        ...(stateVersion ? { stateVersion } : {}),
      };
      ctx.steps = plan.steps;
      this.#progress(
        ctx,
        "approval",
        `waiting for approval of ${formatCounts(plan.counts)}${stateVersion ? ` (plan pinned to ${revision.slice(0, 12)} and state ${stateVersion})` : ""}`,
      );
      return "awaiting-approval";
    }
    if (planFile) rmSync(planFile, { force: true });

    if (this.#outsideWindow(ctx)) return "deferred";

    // apply
    this.#progress(ctx, "apply", "up");
    const applied: ApplyResult = await this.#engine.up(request, this.#engineOptions(ctx, target.refresh));
    return this.#applied(ctx, applied);
  }

  #applied(ctx: RunContext, applied: ApplyResult): RunResult {
    ctx.counts = applied.counts;
    ctx.status = { ...ctx.status, outputs: applied.outputs };
    this.#progress(ctx, "apply", `applied: ${formatCounts(applied.counts)}`);
    return ctx.drift ? "drift-corrected" : "applied";
  }

  /** Outside its change windows an `up` waits for them (unless overridden); says so and when. */
  #outsideWindow(ctx: RunContext): boolean {
    const { target, run } = ctx;
    if (!target.windows) return false;
    if (run.override) {
      this.#progress(ctx, "window", `change window overridden by ${run.override.by}: ${run.override.reason}`);
      return false;
    }
    const verdict = checkWindows(target.windows, new Date());
    if (verdict.open) return false;
    if (verdict.opensAt) ctx.windowOpensAt = verdict.opensAt;
    this.#progress(
      ctx,
      "window",
      `${verdict.blockedBy === "deny" ? "inside a deny window" : "outside the allow windows"}; ${
        verdict.opensAt ? `changes wait until ${verdict.opensAt.toISOString()}` : "no window opens again"
      }`,
    );
    return true;
  }

  async #destroy(ctx: RunContext, record: (start: boolean) => void): Promise<RunResult> {
    const { target } = ctx;
    await ctx.acquireEngine?.();
    record(true);
    const checkoutDir = join(this.#dataDir, "work", target.name);
    const workDir = target.program
      ? join(this.#dataDir, "inline", target.name)
      : join(checkoutDir, target.path);
    this.#progress(ctx, "destroy", `destroying stack ${target.stack}`);
    const result = await this.#engine.destroy(
      this.#stackRequest(ctx, workDir),
      this.#engineOptions(ctx, target.refresh),
    );
    ctx.counts = result.counts;
    rmSync(checkoutDir, { recursive: true, force: true });
    return "destroyed";
  }

  #finishStatus(ctx: RunContext, run: RunRecord, error: unknown): void {
    const name = ctx.target.name;
    const before = this.#status(name);
    const now = new Date().toISOString();
    let conditions = before.conditions;
    let next: TargetStatus = { ...before, ...(ctx.status.outputs ? { outputs: ctx.status.outputs } : {}) };
    const revision = run.revision;
    const wasUnhealthy = conditions.some(
      (c) =>
        (c.type === "Stalled" && c.status) ||
        (c.type === "Ready" && !c.status && !WAITING_REASONS.has(c.reason)),
    );
    if (revision) next = { ...next, lastAttemptedRevision: revision };
    switch (run.result) {
      case "applied":
      case "drift-corrected":
      case "unchanged": {
        conditions = setCondition(conditions, "Ready", true, "Applied", `applied revision ${revision}`);
        conditions = setCondition(conditions, "Stalled", false, "Applied", "");
        conditions = setCondition(
          conditions,
          "Drifted",
          false,
          "InSync",
          "infrastructure matches the revision",
        );
        const {
          stalledRevision: _s,
          approvedRevision: _a,
          awaitingApproval: held,
          deferredUntil: _d,
          ...rest
        } = next;
        if (held?.planFile) rmSync(held.planFile, { force: true });
        next = {
          ...rest,
          lastAppliedRevision: revision as string,
          lastDriftCheckAt: now,
          ...(ctx.depsDigest ? { appliedDepsDigest: ctx.depsDigest } : {}),
        };
        if (before.lastAppliedRevision !== revision || !before.revisionAppliedAt) {
          next = { ...next, revisionAppliedAt: now };
        }
        if (before.lastAppliedRevision !== revision || run.result !== "unchanged") {
          next = { ...next, lastAppliedAt: now };
        }
        if (before.lastAppliedRevision !== revision) {
          this.#events.emit("revision.applied", { target: name, revision: revision as string });
        }
        if (wasUnhealthy) this.#events.emit("recovered", { target: name, revision: revision as string });
        break;
      }
      case "drift-detected":
        conditions = setCondition(
          conditions,
          "Drifted",
          true,
          "DriftDetected",
          `drift found: ${formatCounts(run.counts)}`,
        );
        next = { ...next, lastDriftCheckAt: now };
        break;
      case "planned":
        conditions = setCondition(conditions, "Ready", true, "Planned", `planned revision ${revision}`);
        next = { ...next, lastDriftCheckAt: now };
        break;
      case "stalled": {
        const stalled = error as StalledError;
        conditions = setCondition(conditions, "Stalled", true, stalled.reason, run.error ?? "");
        conditions = setCondition(conditions, "Ready", false, stalled.reason, run.error ?? "");
        const { approvedRevision: _a, ...rest } = next;
        next = { ...rest, ...(revision ? { stalledRevision: revision } : {}) };
        this.#events.emit("stalled", {
          target: name,
          ...(revision ? { revision } : {}),
          reason: stalled.reason,
          message: run.error ?? "",
        });
        break;
      }
      case "deferred": {
        const opensAt = ctx.windowOpensAt?.toISOString();
        conditions = setCondition(
          conditions,
          "Ready",
          false,
          "OutsideChangeWindow",
          `revision ${revision} waits for its change window${opensAt ? `, which opens at ${opensAt}` : ""}`,
        );
        const { deferredUntil: _d, ...rest } = next;
        next = { ...rest, ...(opensAt ? { deferredUntil: opensAt } : {}) };
        break;
      }
      case "awaiting-approval":
        conditions = setCondition(
          conditions,
          "Ready",
          false,
          "AwaitingApproval",
          `revision ${revision} waits for approval: ${formatCounts(run.counts)}`,
        );
        if (ctx.approval) {
          const { approvedRevision: _a, ...rest } = next;
          const replaced = before.awaitingApproval?.planFile;
          if (replaced && replaced !== ctx.approval.planFile) rmSync(replaced, { force: true });
          next = { ...rest, awaitingApproval: ctx.approval };
        }
        break;
      case "failed":
      case "cancelled":
        conditions = setCondition(
          conditions,
          "Ready",
          false,
          run.result === "failed" ? "Failed" : "Cancelled",
          run.error ?? "",
        );
        break;
      default:
        break;
    }
    conditions = setCondition(conditions, "Reconciling", false, "Idle", "");
    this.#store.putStatus({ ...next, conditions, updatedAt: now });
  }

  /** Queues a run for when a change window opens (timers cap at ~24 days; a later run sets the next). */
  #scheduleWindow(state: TargetState, opensAt: Date): void {
    clearTimeout(state.windowTimer);
    state.windowTimer = this.#timerAt(state, opensAt, 1000, { trigger: "schedule", force: true });
  }

  /** Checks a promotion again when the upstream's revision is due. */
  #schedulePromotion(state: TargetState, dueAt: Date): void {
    clearTimeout(state.promoteTimer);
    state.promoteTimer = this.#timerAt(state, dueAt, 250, { trigger: "promotion", force: false });
  }

  /** A timer that queues a run shortly after `at`, unless the target is gone, suspended or stopped. */
  #timerAt(
    state: TargetState,
    at: Date,
    marginMs: number,
    request: { trigger: Trigger; force: boolean },
  ): NodeJS.Timeout {
    const delay = Math.min(2 ** 31 - 1, Math.max(0, at.getTime() - Date.now()) + marginMs);
    const timer = setTimeout(() => {
      if (!state.removed && this.#scheduling && !this.#isSuspended(state.spec.name))
        this.#enqueue(state, request);
    }, delay);
    timer.unref();
    return timer;
  }

  #scheduleRetry(state: TargetState, error: unknown): void {
    state.attempts++;
    const hinted = error instanceof RetryableError ? error.retryAfterMs : 0;
    const backoff = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (state.attempts - 1));
    const delay = Math.max(hinted, backoff * (0.5 + Math.random()));
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      if (!state.removed && this.#scheduling) this.#enqueue(state, { trigger: "retry", force: true });
    }, delay);
    state.retryTimer.unref();
    this.#log.info(
      { target: state.spec.name, attempt: state.attempts, delayMs: Math.round(delay) },
      "retry scheduled",
    );
  }

  #skipped(name: string, run: Pending, reason: string): RunRecord {
    const now = new Date().toISOString();
    return {
      id: run.id,
      target: name,
      trigger: run.trigger,
      startedAt: now,
      finishedAt: now,
      result: "skipped",
      drift: false,
      log: reason,
    };
  }

  // ---- stack leases -----------------------------------------------------------

  /**
   * Takes the store's lease on the run's stack, waiting (polling with jitter)
   * while a run of this or another process sharing the store holds it. Returns
   * the function that releases it; until then the lease is renewed on a timer.
   */
  async #leaseStack(ctx: RunContext, state: TargetState): Promise<() => void> {
    const request = {
      key: this.#stackLockKey(ctx.target),
      owner: this.#owner,
      target: ctx.target.name,
      runId: ctx.run.id,
    };
    let waited = false;
    let previous: StackLease | undefined;
    for (;;) {
      ctx.signal.throwIfAborted();
      previous = this.#store.getStackLock(request.key);
      const holder = this.#store.tryLockStack(request, Reconciler.#leaseTtlMs);
      if (!holder) break;
      if (!waited) {
        waited = true;
        this.#progress(
          ctx,
          "lock",
          `waiting for stack ${ctx.target.stack} held by run ${holder.runId} of target ${holder.target} (owner ${holder.owner})`,
        );
      }
      await this.#delay(250 + Math.random() * 750, ctx.signal);
    }
    // A holder that stopped renewing or died may have left the stack locked
    // with pending operations, and its run unfinished: recover first.
    const tookOver =
      previous !== undefined &&
      !(previous.owner === request.owner && previous.runId === request.runId) &&
      (previous.expiresAt <= Date.now() || isOwnerDead(previous.owner));
    if (tookOver && previous) {
      state.needsRecovery = true;
      this.#progress(
        ctx,
        "lock",
        `took over the lease on stack ${ctx.target.stack} from run ${previous.runId} of target ${previous.target} (owner ${previous.owner}), which stopped; recovering first`,
      );
    } else if (waited) {
      this.#progress(ctx, "lock", `took the lease on stack ${ctx.target.stack}`);
    }
    const scope = tookOver && previous ? [ctx.target.name, previous.target] : [ctx.target.name];
    for (const interrupted of this.#store.markInterrupted(scope)) {
      const other = this.#targets.get(interrupted.target);
      if (other) other.needsRecovery = true;
      this.#log.warn(
        { target: interrupted.target, runId: interrupted.id },
        "a run of a process that stopped was interrupted; recovering before the next run",
      );
    }
    const renew = setInterval(() => {
      try {
        if (this.#store.renewStackLock(request.key, request.owner, Reconciler.#leaseTtlMs)) return;
        const holder = this.#store.tryLockStack(request, Reconciler.#leaseTtlMs);
        if (holder) {
          this.#progress(
            ctx,
            "lock",
            `lost the lease on stack ${ctx.target.stack} to run ${holder.runId} of target ${holder.target} (owner ${holder.owner}); the backend's own lock still guards the update`,
          );
        }
      } catch (error) {
        ctx.log.warn({ err: error }, "could not renew the stack lease");
      }
    }, Reconciler.#leaseRenewMs);
    renew.unref();
    return () => {
      clearInterval(renew);
      try {
        this.#store.unlockStack(request.key, request.owner);
      } catch (error) {
        ctx.log.warn({ err: error }, "could not release the stack lease; it lapses on its own");
      }
    };
  }

  /**
   * Names a stack across processes: backend URL, project and stack name. The
   * project's name in Pulumi.yaml is only known after checkout, which happens
   * under the lease, so a project is named by its repository (credentials
   * left out) and path; an inline program by its project name.
   */
  #stackLockKey(target: ResolvedTarget): string {
    const project = target.program
      ? `inline:${target.projectName ?? "inline"}`
      : `${publicRepoUrl(target.repo).replace(/\/+$/, "")}//${target.path}`;
    return `${target.backend.replace(/\/+$/, "")}#${project}#${target.stack}`;
  }

  /** How long a stack lease lasts unless renewed, and how often a running run renews it. */
  static readonly #leaseTtlMs = 60_000;
  static readonly #leaseRenewMs = 15_000;

  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  #delay(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Ready=False reasons that mean "waiting", not "broken": leaving them is no recovery. */
const WAITING_REASONS = new Set(["Pending", "DependencyNotReady", "OutsideChangeWindow", "AwaitingApproval"]);

function needsApproval(policy: ResolvedTarget["requireApproval"], plan: Plan): boolean {
  if (policy === "always") return plan.changes;
  if (policy === "destructive") return plan.counts.delete + plan.counts.replace > 0;
  return false;
}

/** Identifies a plan by its steps, so an approval applies only the plan a person saw. */
function planDigest(plan: Plan): string {
  const steps = plan.steps.map((s) => `${s.op} ${s.urn}`).sort();
  return sha256(steps.join("\n")).slice(0, 16);
}

function formatCounts(counts: ChangeCounts | undefined): string {
  if (!counts) return "no changes";
  const parts = (["create", "update", "replace", "delete"] as const)
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} to ${k}`);
  return parts.length > 0
    ? `${parts.join(", ")}, ${counts.same} unchanged`
    : `no changes (${counts.same} unchanged)`;
}

function setCondition(
  conditions: readonly Condition[],
  type: ConditionType,
  status: boolean,
  reason: string,
  message: string,
): Condition[] {
  const previous = conditions.find((c) => c.type === type);
  const since = previous && previous.status === status ? previous.since : new Date().toISOString();
  return [...conditions.filter((c) => c.type !== type), { type, status, reason, message, since }];
}
