/**
 * The `Reconciler` facade: creation, the target registry, the command API
 * (reconcile, approve, promote, rollback, previewRef, suspend) and start/stop.
 * `schedule/wiring.ts` wires the parts that do the work (queue, scheduler,
 * recorder, the run loop, commands, replicas); the rest of the work happens in
 * `run/`, `pipelines/` and `replicas/`.
 */
import { resolve } from "node:path";
import { DriftlessError, UnknownTargetError } from "./errors.js";
import type { ReconcilerEventName, ReconcilerEvents } from "./events.js";
import { discoverTargets } from "./git/discovery.js";
import {
  type ApprovalRequest,
  checkOptions,
  type PreviewRefOptions,
  type QueuedRun,
  type ReconcileOptions,
  type ReconcilerOptions,
  type RefPreview,
  type ResolvedOptions,
  resolveOptions,
  type SuspendRequest,
} from "./options.js";
import { graphOf, resolveTargetSet } from "./pipelines/dependencies.js";
import { validateGraph } from "./pipelines/graph.js";
import { checkPromotions, ordering, type PromotionRequest } from "./pipelines/promotion.js";
import { removeTargets } from "./pipelines/removal.js";
import { type ReviewPull, reviewTarget } from "./pipelines/reviewStacks.js";
import { recoverAfterStop } from "./replicas/leases.js";
import { readStatuses } from "./replicas/replicaHost.js";
import type { ReplicaStats } from "./replicas/replicas.js";
import { previewRef } from "./run/previewRef.js";
import { readInventory } from "./run/readInventory.js";
import { isSuspended } from "./run/status.js";
import * as commands from "./schedule/commands.js";
import type { TargetState } from "./schedule/runtime.js";
import { type Wiring, wireReconciler } from "./schedule/wiring.js";
import { type ResolvedTarget, resolveTarget, type SecretSource, type TargetSpec } from "./spec/spec.js";
import { claimDataDir, type DataDirLock } from "./store/dataDirLock.js";
import {
  type FollowLogOptions,
  followRunLog,
  type RunLogRead,
  readRunLog,
  withLogTail,
} from "./store/runLog.js";
import type { ReviewStackStore } from "./store/store.js";
import type {
  PromotionRecord,
  ResourceHistoryEntry,
  RunLogChunk,
  RunRecord,
  TargetInventory,
  TargetStatus,
} from "./types.js";

/**
 * Continuous reconciliation of Pulumi stacks from Git.
 *
 * One run per target at a time; triggers during a run coalesce into one queued run; at most
 * `concurrency` runs use the engine at once, served in arrival order. A run is an ordered list of
 * steps (`steps.ts`) that stops at the first error or result; status, history, events and logs are
 * recorded in `finally` (`run.ts`). Kubernetes targets' objects are watched (`watch/`).
 */
export class Reconciler {
  readonly #options: ResolvedOptions;
  readonly #dataDirLock: DataDirLock;
  readonly #wiring: Wiring;
  readonly #targets: Map<string, TargetState>;
  #scheduling = false;
  #closed = false;
  /** Added targets whose empty status is not stored yet. */
  readonly #unstored = new Set<string>();
  /** Set once creation stored the first statuses: later additions store theirs in the background. */
  #created = false;
  /** Set by stop(): queued runs are settled as skipped instead of started. */
  #stopping = false;

  private constructor(options: ResolvedOptions, dataDirLock: DataDirLock) {
    this.#options = options;
    this.#dataDirLock = dataDirLock;
    this.#wiring = wireReconciler(options, {
      scheduling: () => this.#scheduling,
      stopping: () => this.#stopping || this.#closed,
      isSuspended: (name) => this.isSuspended(name),
      require: (name) => this.#require(name),
    });
    this.#targets = this.#wiring.targets;
  }

  /**
   * Opens the store, marks runs a crashed process left unfinished as
   * interrupted (their stacks are recovered before the next engine run) and
   * adds the given targets. Scheduling starts with {@link start}.
   */
  static async create(options: ReconcilerOptions): Promise<Reconciler> {
    checkOptions(options);
    // Every problem of the given targets at once, before anything is written.
    resolveTargetSet(options.targets ?? [], resolve(options.dataDir));
    // The data directory is this process's alone (before the store in it opens).
    const { lock: dataDirLock, undo } = claimDataDir(resolve(options.dataDir));
    let resolved: ResolvedOptions;
    try {
      resolved = await resolveOptions(options);
    } catch (error) {
      undo();
      throw error;
    }
    const reconciler = new Reconciler(resolved, dataDirLock);
    const { store, dataDir, source, ownsStore, stateBackend } = reconciler.#options;
    try {
      const discovered = options.discover?.length
        ? await discoverTargets(options.discover, { source, dataDir })
        : [];
      const specs = [...(options.targets ?? []), ...discovered];
      const resolved = resolveTargetSet(specs, dataDir, stateBackend?.url);
      for (const target of resolved.values()) reconciler.#add(target);
      // The status view synchronous decisions read (suspension, dependencies, promotions).
      await reconciler.#wiring.recorder.refresh();
      await reconciler.#ensureStatuses();
    } catch (error) {
      // Bad targets leave nothing behind: no open store, no runs marked, no files made.
      if (ownsStore) await store.close();
      undo();
      throw error;
    }
    await recoverAfterStop(
      reconciler.#wiring.rt,
      [...reconciler.#targets.keys()],
      resolved.replicas !== undefined,
    );
    return reconciler;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends ReconcilerEventName>(event: K, listener: (e: ReconcilerEvents[K]) => void): () => void {
    return this.#wiring.events.on(event, listener);
  }

  /**
   * Validates and adds a target (or replaces one of the same name). Its
   * `dependsOn` must name targets already added and must not close a cycle.
   * @throws SpecError
   */
  addTarget(spec: TargetSpec): ResolvedTarget {
    const { dataDir, stateBackend } = this.#options;
    const resolved = resolveTarget(spec, { dataDir, backend: stateBackend?.url });
    checkPromotions(new Map([...this.#targets].map(([n, t]) => [n, t.spec])).set(resolved.name, resolved));
    const graph = new Map(graphOf(this.#wiring.rt));
    graph.set(resolved.name, ordering(resolved));
    validateGraph(graph);
    return this.#add(resolved);
  }

  #add(resolved: ResolvedTarget): ResolvedTarget {
    const existing = this.#targets.get(resolved.name);
    if (existing) {
      existing.spec = resolved;
      void this.#wiring.watches.specChanged(resolved);
    } else {
      this.#targets.set(resolved.name, { spec: resolved, needsRecovery: false, removed: false });
      this.#unstored.add(resolved.name);
      // Stored in the background after creation; a store that does not answer now stores it at the next write.
      if (this.#created) void this.#ensureStatuses();
    }
    if (this.#scheduling) this.#wiring.schedule(resolved);
    return resolved;
  }

  /** Stores an empty status for each target added since the last call. */
  async #ensureStatuses(): Promise<void> {
    this.#created = true;
    const names = [...this.#unstored];
    this.#unstored.clear();
    await this.#wiring.recorder.ensureStatuses(names, this.#options.logger);
  }

  /**
   * Adds (or updates) the target a pull request's review stack runs as (see `reviewTarget`): `<base>-pr-<number>`,
   * destroyed and removed by {@link removeTarget}; a recorded `stack` is kept. Queues no run.
   * @throws DriftlessError for a name in use
   */
  addReviewStack(base: string, pull: ReviewPull): ResolvedTarget {
    const derived = reviewTarget(this.#require(base).spec, pull);
    if (this.#targets.get(derived.name)?.spec.review === undefined && this.#targets.has(derived.name)) {
      throw new DriftlessError(`target "${derived.name}" exists and is not a review stack of "${base}"`);
    }
    return this.#add(derived);
  }

  /** The store's review stack records (see `ReviewStackStore`). */
  get reviewStacks(): ReviewStackStore {
    return this.#options.store.reviewStacks;
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
    const { rt, targets, queue, scheduler } = this.#wiring;
    return removeTargets({ rt, targets, queue, scheduler, require: (n) => this.#require(n) }, names);
  }

  /** Queues a run and waits for it to finish. */
  async reconcile(name: string, options: ReconcileOptions = {}): Promise<RunRecord> {
    return (await this.request(name, options)).done;
  }

  /**
   * Queues a run without waiting. A request while the target is running joins
   * the one queued run behind it (same id), so no trigger is lost and none doubles.
   * @throws ReconcilerStoppedError after {@link stop}
   */
  async request(name: string, options: ReconcileOptions = {}): Promise<QueuedRun> {
    const what = commands.reconcileCommand(name, options);
    return commands.runCommand(this.#wiring.commands, name, what, options.signal);
  }

  /**
   * Releases a plan awaiting approval, a revision that a safety gate refused or
   * whose ref was rewritten, and queues a run that applies it. A plan awaiting
   * approval is applied only while the ref still points at its revision and
   * the preview finds the same steps; otherwise the new plan awaits approval.
   * Who approved and why are recorded on the run that applies it.
   * @param request - the revision (a string, for compatibility) or who approves what and why
   * @throws NothingToApproveError when no plan awaits approval and no revision stalled
   */
  async approve(name: string, request: ApprovalRequest | string = {}): Promise<QueuedRun> {
    return commands.runCommand(this.#wiring.commands, name, commands.approveCommand(request));
  }

  /**
   * Promotes a revision to a target with `promote` now, without waiting for
   * the soak time or the upstream's health, and queues the run that applies it.
   * The revision must be one the upstream applied successfully.
   * @default options.revision - the upstream's last applied revision
   * @throws DriftlessError for a target without `promote`, or a revision the upstream never applied
   */
  async promote(name: string, options: PromotionRequest): Promise<QueuedRun> {
    return commands.runCommand(this.#wiring.commands, name, { ...options, kind: "promote" });
  }

  /**
   * Moves a target with `promote` back to a revision it applied before and
   * queues the run that applies it. Automatic promotion then skips the revision
   * rolled back from until the upstream applies another one.
   * @default options.revision - the revision it applied before the current one
   * @throws DriftlessError for a target without `promote`, or a revision it never applied
   */
  async rollback(name: string, options: PromotionRequest): Promise<QueuedRun> {
    return commands.runCommand(this.#wiring.commands, name, { ...options, kind: "rollback" });
  }

  /** A target's promotions and rollbacks, newest first. */
  async promotions(name: string, limit = 50): Promise<PromotionRecord[]> {
    this.#require(name);
    return this.#options.store.listPromotions(name, limit);
  }

  /**
   * Plans another ref (for example `refs/pull/7/head`) against the target's
   * stack without applying it: the ref is checked out into a scratch worktree,
   * previewed, and the worktree removed. A stack that had to be created for
   * the preview is removed again, so nothing is left behind. Runs the same
   * steps as a reconcile (`PREVIEW_REF_STEPS`), without lease or record.
   */
  async previewRef(name: string, ref: string, options: PreviewRefOptions = {}): Promise<RefPreview> {
    return previewRef(this.#wiring.rt, this.#require(name).spec, ref, options);
  }

  /**
   * Files changed from `from` to the commit `ref` names in the target's
   * repository (`ref` is fetched, e.g. `refs/pull/7/head`); `undefined` when
   * that cannot be told (then every path should count as changed).
   */
  async changedFiles(name: string, ref: string, from: string, to: string): Promise<string[] | undefined> {
    const { repo, auth } = this.#require(name).spec;
    return this.#options.source.changedFiles({ repo, ref, ...(auth ? { auth } : {}) }, from, to);
  }

  /**
   * Stops scheduled runs for a target (manual runs still work); who and why are recorded (by the owner, with replicas).
   * @throws SpecError for `by` without `reason` (or the reverse)
   */
  async suspend(name: string, request: SuspendRequest = {}): Promise<TargetStatus> {
    return commands.statusCommand(this.#wiring.commands, name, { kind: "suspend", ...request });
  }

  /** Resumes scheduled runs for a target; who and why are recorded in its status. */
  async resume(name: string, request: SuspendRequest = {}): Promise<TargetStatus> {
    return commands.statusCommand(this.#wiring.commands, name, { kind: "resume", ...request });
  }

  /** A target's status, read from the store. @throws UnknownTargetError for an unknown target */
  async status(name: string): Promise<TargetStatus> {
    this.#require(name);
    return (await readStatuses(this.#wiring.rt, this.#wiring.replicas, [name]))[0] as TargetStatus;
  }

  /** Status of every managed target, by name (one store read). */
  async statuses(): Promise<TargetStatus[]> {
    return readStatuses(this.#wiring.rt, this.#wiring.replicas, [...this.#targets.keys()].sort());
  }

  /** The watches of Kubernetes targets' objects: watches open, events, drift checks queued, lags (taken). */
  watchStats(): ReturnType<Wiring["watches"]["stats"]> {
    return this.#wiring.watches.stats();
  }

  /** This replica's membership and ownership figures; `undefined` without replicas. */
  replicaStats(): ReplicaStats | undefined {
    return this.#wiring.replicas?.stats();
  }

  /** The most recent runs of a target, newest first. */
  async history(name: string, limit = 50): Promise<RunRecord[]> {
    this.#require(name);
    const { store } = this.#options;
    return Promise.all((await store.listRuns(name, limit)).map((run) => withLogTail(store, run)));
  }

  /**
   * What a target's stack manages, as of the last run that reached the
   * engine: each resource with its sync state, health and the run that last
   * changed it (see `buildInventory`); `resourceTree` nests them.
   * @returns `undefined` before a run read the stack's state
   * @throws UnknownTargetError for an unknown target
   */
  async resources(name: string): Promise<TargetInventory | undefined> {
    this.#require(name);
    return this.#options.store.getInventory(name);
  }

  /**
   * The runs that created, updated, replaced, deleted or found drifted one of
   * a target's resources, newest first, with the changed property paths
   * (values masked as in the runs' plans). A resource keeps its last
   * `RESOURCE_HISTORY_LIMIT` (50) entries; a URN never seen gives none.
   * @throws UnknownTargetError for an unknown target
   */
  async resourceHistory(name: string, urn: string, limit?: number): Promise<ResourceHistoryEntry[]> {
    this.#require(name);
    return this.#options.store.resourceHistory(name, urn, limit);
  }

  /**
   * Rebuilds a target's inventory from its stack's state as it is now, without a run (no
   * refresh, no engine process on a `file://` backend), and stores it: health and provenance
   * from the state, sync states from the last run. See `readInventory` in `run/readInventory.ts`.
   * @returns the stored inventory as it is while a run of the target is queued or under way;
   *   `undefined` before a run read the stack's state
   * @throws UnknownTargetError for an unknown target
   */
  async readInventory(name: string): Promise<TargetInventory | undefined> {
    return readInventory(this.#wiring.rt, this.#require(name));
  }

  /**
   * When the next scheduled check of a target is due; `undefined` when suspended or not scheduling.
   * @param status the target's status when the caller has just read it (saves reading it again)
   */
  nextCheck(name: string, status?: TargetStatus): Date | undefined {
    const spec = this.#require(name).spec;
    const suspended = status ? isSuspended(status, spec.suspend) : this.isSuspended(name);
    return this.#scheduling && !suspended ? this.#wiring.scheduler.nextRunAt(name) : undefined;
  }

  /** A revision's commit subject from the local mirror (never the remote); `undefined` when unknown. */
  async commitSubject(name: string, revision: string): Promise<string | undefined> {
    const { repo, ref, auth } = this.#require(name).spec;
    return this.#options.source.commitSubject?.({ repo, ref, auth }, revision);
  }

  /** The author's and committer's emails of a revision, from the local mirror; `undefined` when unknown. */
  async commitEmails(name: string, revision: string): Promise<readonly string[] | undefined> {
    const { repo, ref, auth } = this.#require(name).spec;
    return this.#options.source.commitEmails?.({ repo, ref, auth }, revision);
  }

  /** One run (or, with replicas, a command's run once known) by id, with the last lines its log has so far. */
  async run(id: string): Promise<RunRecord | undefined> {
    const run = await commands.findRun(this.#options.store, id);
    return run && withLogTail(this.#options.store, run);
  }

  /** A run's log from an offset (see {@link readRunLog}); `undefined` for an unknown run. */
  async runLog(id: string, from = 0): Promise<RunLogRead | undefined> {
    return readRunLog(this.#options.store, id, from);
  }

  /** Follows a run's log as it is written, until the run ends (see {@link followRunLog}). */
  followRunLog(id: string, options: FollowLogOptions = {}): AsyncGenerator<RunLogChunk> {
    return followRunLog(this.#options.store, id, options);
  }

  /**
   * Scheduler health since the last call: how many decisions were made and
   * the longest wait from a request (a tick, a webhook) to its decision.
   * Resets the figures.
   */
  takeSchedulerStats(): { decisions: number; maxLatenessMs: number } {
    return this.#wiring.takeStats();
  }

  /**
   * Resolves when no run is queued or in progress, including the runs that
   * finished runs queued for their dependents (a whole pipeline has settled).
   */
  whenIdle(): Promise<void> {
    return this.#wiring.queue.whenIdle();
  }

  /**
   * The service's secrets (the `secrets` option and the store's password): the
   * HTTP handler and the notifier mask them too, as runs do.
   */
  get secrets(): readonly SecretSource[] {
    return this.#options.secrets;
  }

  /** Runs waiting for a slot across all targets. */
  get queueDepth(): number {
    return this.#wiring.queue.depth;
  }

  /** Whether the scheduler is running and the store open and answering (for readiness probes). */
  async isReady(): Promise<boolean> {
    const { store } = this.#options;
    if (!this.#scheduling || !store.isOpen || this.#closed) return false;
    return (await store.ping?.()) ?? true;
  }

  /** Starts interval, resync and cron scheduling for every target, with an initial run each. */
  start(): void {
    if (this.#scheduling) return;
    this.#scheduling = true;
    // Replicas schedule the targets they take (see `replicaHost.ts`).
    this.#wiring.replicas?.start();
    if (this.#wiring.replicas) return;
    for (const state of this.#targets.values()) {
      this.#wiring.schedule(state.spec);
      if (!this.isSuspended(state.spec.name))
        this.#wiring.enqueue(state, { trigger: "startup", force: false });
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
    const clean = await this.#wiring.stopRuns(options.graceMs ?? 30_000);
    this.#closed = true;
    await this.#options.store.close();
    this.#dataDirLock.release();
    this.#wiring.queue.notifyIdle();
    return clean;
  }

  #require(name: string): TargetState {
    const state = this.#targets.get(name);
    if (!state) throw new UnknownTargetError(name, [...this.#targets.keys()]);
    return state;
  }

  /**
   * Whether scheduled runs of a target are suspended (the Suspended condition, else the spec's
   * `suspend`), from the status view this process keeps (see the README's "Reads").
   */
  isSuspended(name: string): boolean {
    return isSuspended(this.#wiring.recorder.status(name), this.#targets.get(name)?.spec.suspend ?? false);
  }
}
