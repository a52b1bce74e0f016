/**
 * Replicas sharing targets through the store: each process registers as a
 * member and heartbeats; targets are spread over the live members by
 * rendezvous hashing; a member owns a target through a lease with a fencing
 * epoch (see `OwnershipStore`). A member that joins gets its share between
 * runs: the current owner releases a target only while none of its runs is
 * queued or in progress. A member that stops heartbeating loses its leases
 * when they lapse and the others take its targets. Commands received by any
 * replica go through the store's trigger inbox to the owner.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import { TargetLostError } from "../errors.js";
import type { Acquired, Store } from "../store/store.js";
import type { Fence, StoredTrigger, TargetLease } from "../types.js";
import { type ResolvedReplicaOptions, rendezvousOwner } from "./options.js";

export {
  type ReplicaOptions,
  type ResolvedReplicaOptions,
  rendezvousOwner,
  resolveReplicaOptions,
} from "./options.js";

/** What the replica set asks of the reconciler. */
export interface ReplicaHost {
  /** The targets this process manages (the same on every replica). */
  targets(): Iterable<string>;
  /** Whether a target has a run queued or in progress here. */
  busy(target: string): boolean;
  /** This replica now owns the target: schedule it (recover first when it was taken over). */
  take(target: string, acquired: Acquired & { taken: true }): Promise<void>;
  /** This replica no longer owns the target (released, or taken by another): stop its timers and writes. */
  drop(target: string, lost: boolean): void;
  /** After each heartbeat: reads the status of the targets other replicas own (into the status view). */
  refreshOthers(others: readonly string[]): Promise<void>;
  /** Carries out a command for a target this replica owns; resolves the id of the run that covered it, if any. */
  deliver(trigger: StoredTrigger): Promise<{ runId?: string; error?: string } | undefined>;
}

/** Figures of one replica for metrics. */
export interface ReplicaStats {
  readonly member: string;
  readonly members: number;
  readonly owned: number;
  /** Heartbeats that failed (the database did not answer). */
  readonly renewalFailures: number;
  /** Targets taken over from a replica whose lease lapsed. */
  readonly takeovers: number;
  /** Times this replica fenced itself (dropped its targets) because it could not renew its leases in time. */
  readonly fences: number;
}

/** Done commands are kept this long (for `GET /runs/:id` of a command's id), pruned every so many heartbeats. */
const KEEP_DONE_TRIGGERS_MS = 24 * 3600_000;
const PRUNE_EVERY_BEATS = 120;

interface Owned {
  readonly epoch: number;
  readonly abort: AbortController;
}

/** This process's membership, its target leases and the delivery of the inbox's commands. */
export class ReplicaSet {
  readonly #store: Store;
  readonly #id: string;
  readonly #options: ResolvedReplicaOptions;
  readonly #host: ReplicaHost;
  readonly #log: Logger;
  readonly #owned = new Map<string, Owned>();
  /** The last epoch this replica held of each target, owned or not any more. */
  readonly #epochs = new Map<string, number>();
  /** Commands being carried out here, so a poll does not deliver them twice. */
  readonly #delivering = new Set<string>();
  readonly #startedAt = new Date().toISOString();
  #members: string[] = [];
  /** Each target's rendezvous owner among {@link #members} (`key`: the members, sorted). */
  #owners: { key: string; owners: Map<string, string | undefined> } = { key: "", owners: new Map() };
  #beat?: NodeJS.Timeout;
  /** The heartbeat in progress. */
  #beating?: Promise<void>;
  #unlisten?: () => void;
  #poll?: NodeJS.Timeout;
  #running = false;
  #pollQueued = false;
  #beats = 0;
  /** When (monotonic, ms) the last heartbeat that renewed the leases was sent. */
  #renewedAt = 0;
  #fenceTimer?: NodeJS.Timeout;
  #fences = 0;
  /** The last heartbeat ran out of time before every target was taken or given: the next one follows at once. */
  #unbalanced = false;
  #renewalFailures = 0;
  #takeovers = 0;

  constructor(store: Store, id: string, options: ResolvedReplicaOptions, host: ReplicaHost, logger: Logger) {
    this.#store = store;
    this.#id = id;
    this.#options = options;
    this.#host = host;
    this.#log = logger.child({ member: id });
  }

  /** This replica's member id (its owner id). */
  get id(): string {
    return this.#id;
  }

  /**
   * Registers and starts heartbeating. Targets are taken from the second
   * heartbeat on, so replicas starting together see each other first and do
   * not all take everything.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Commands stored for a target this replica owns arrive at once where the store announces them.
    void this.#store
      .onTrigger?.((target) => {
        if (this.#running && this.owns(target)) this.#pollSoon();
      })
      .then((stop) => {
        if (this.#running) this.#unlisten = stop;
        else stop();
      });
    // Each heartbeat and poll starts once the one before it ended: a slow database does not pile them up.
    const beat = (rebalance: boolean) => {
      this.#beating = this.#heartbeat(rebalance).finally(() => {
        this.#beating = undefined;
        if (!this.#running) return;
        // A heartbeat that ran out of time with targets left to take or give goes on at once.
        this.#beat = setTimeout(() => beat(true), this.#unbalanced ? 0 : this.#options.heartbeatMs);
        this.#beat.unref();
      });
    };
    beat(false);
    // Self-fencing: checked on its own timer, as a heartbeat may hang until its query times out.
    this.#renewedAt = performance.now();
    this.#fenceTimer = setInterval(() => this.#checkFence(), Math.max(25, this.#options.heartbeatMs / 4));
    this.#fenceTimer.unref();
    const poll = () => {
      this.#poll = setTimeout(() => {
        void this.pollTriggers().finally(() => {
          if (this.#running) poll();
        });
      }, this.#options.triggerPollMs);
      this.#poll.unref();
    };
    poll();
  }

  /** Stops heartbeating; with `leave`, removes the membership and releases every lease (after the runs ended). */
  async stop(leave: boolean): Promise<void> {
    this.#running = false;
    this.#unlisten?.();
    clearTimeout(this.#beat);
    clearTimeout(this.#poll);
    clearInterval(this.#fenceTimer);
    await this.#beating;
    if (!leave) return;
    try {
      await this.#store.leave(this.#id);
    } catch (error) {
      this.#log.warn(
        { err: (error as Error).message },
        "could not leave the replica set; the leases lapse on their own",
      );
    }
    this.#owned.clear();
  }

  /** Whether this replica owns a target now. */
  owns(target: string): boolean {
    return this.#owned.has(target);
  }

  /**
   * The fence of this replica's writes for a target: the epoch it holds, or
   * the last one it held (a run that outlived its lease is refused), or 0
   * for a target it never held (refused too).
   */
  fence(target: string): Fence {
    return { owner: this.#id, epoch: this.#owned.get(target)?.epoch ?? this.#epochs.get(target) ?? 0 };
  }

  /** Aborted when this replica loses the target: its run stops. */
  signal(target: string): AbortSignal | undefined {
    return this.#owned.get(target)?.abort.signal;
  }

  /**
   * This replica lost the target: its lease changed hands (`refused`: a write
   * was refused for it). Stops its timers and its run.
   */
  lost(target: string, refused = false, why?: string): void {
    if (refused)
      this.#log.warn({ target }, "a stale write for the target was refused; another replica owns it now");
    const owned = this.#owned.get(target);
    if (!owned) return;
    this.#owned.delete(target);
    const reason = why ?? "another replica owns the target now";
    this.#log.warn({ target, epoch: owned.epoch }, `${reason}; dropping it`);
    owned.abort.abort(new TargetLostError(target, reason));
    this.#host.drop(target, true);
  }

  stats(): ReplicaStats {
    return {
      member: this.#id,
      members: this.#members.length,
      owned: this.#owned.size,
      renewalFailures: this.#renewalFailures,
      takeovers: this.#takeovers,
      fences: this.#fences,
    };
  }

  /**
   * The margin before a lease this replica could not renew may have lapsed
   * (by this process's monotonic clock, from when the last successful
   * renewal was sent) at which it fences itself: a quarter of `leaseTtlMs`.
   */
  get fenceMarginMs(): number {
    return Math.floor(this.#options.leaseTtlMs / 4);
  }

  /**
   * How long a heartbeat may spend taking and releasing targets after it was
   * sent: half the time to the fence margin. One that runs out of it is
   * followed by the next at once (see {@link #unbalanced}), which renews
   * first: a thousand targets over a slow network take several heartbeats.
   */
  get #rebalanceBudgetMs(): number {
    return (this.#options.leaseTtlMs - this.fenceMarginMs) / 2;
  }

  /**
   * Fences this replica when its leases may lapse soon without a renewal:
   * drops every target (no new runs) and aborts their runs, which cancels
   * their engines, before another replica may take them over.
   */
  #checkFence(): void {
    if (!this.#running || this.#owned.size === 0) return;
    const deadline = this.#renewedAt + this.#options.leaseTtlMs - this.fenceMarginMs;
    if (performance.now() < deadline) return;
    this.#fences++;
    this.#log.warn(
      { owned: this.#owned.size, sinceRenewalMs: Math.round(performance.now() - this.#renewedAt) },
      "could not renew the target leases in time; stopping this replica's runs before they lapse",
    );
    for (const target of [...this.#owned.keys()]) this.lost(target, false, "its leases could not be renewed");
  }

  /** Looks for open commands of the targets this replica owns and carries them out. */
  async pollTriggers(): Promise<void> {
    let open: StoredTrigger[];
    try {
      open = await this.#store.openTriggers(this.#id);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, "could not read the trigger inbox");
      return;
    }
    for (const trigger of open) if (this.owns(trigger.target)) this.#deliver(trigger);
  }

  /** One inbox read for a burst of notifications. */
  #pollSoon(): void {
    if (this.#pollQueued) return;
    this.#pollQueued = true;
    setImmediate(() => {
      this.#pollQueued = false;
      void this.pollTriggers();
    });
  }

  #deliver(trigger: StoredTrigger): void {
    if (this.#delivering.has(trigger.id) || !this.owns(trigger.target)) return;
    this.track(trigger, this.#host.deliver(trigger));
  }

  /**
   * Marks a command done once `outcome` resolves, if this replica still owns
   * its target at the same epoch; otherwise it stays open for the next owner.
   * `undefined` leaves it open too (this replica stopped before carrying it out).
   */
  track(trigger: StoredTrigger, outcome: Promise<{ runId?: string; error?: string } | undefined>): void {
    if (!this.owns(trigger.target)) return;
    const fence = this.fence(trigger.target);
    this.#delivering.add(trigger.id);
    outcome.then(
      async (result) => {
        this.#delivering.delete(trigger.id);
        if (!result || !this.owns(trigger.target) || this.fence(trigger.target).epoch !== fence.epoch) return;
        try {
          await this.#store.completeTrigger(trigger.id, result, fence);
        } catch (error) {
          this.#log.warn(
            { trigger: trigger.id, err: (error as Error).message },
            "could not complete a trigger",
          );
        }
      },
      (error: unknown) => {
        this.#delivering.delete(trigger.id);
        this.#log.warn(
          { trigger: trigger.id, err: (error as Error).message },
          "could not carry out a trigger",
        );
      },
    );
  }

  async #heartbeat(rebalance: boolean): Promise<void> {
    // Set again below when this one runs out of time (never after a failed renewal: that waits).
    this.#unbalanced = false;
    let beat: Awaited<ReturnType<Store["heartbeat"]>>;
    const info = { id: this.#id, host: hostname(), pid: process.pid, startedAt: this.#startedAt };
    // Sent before the database renews: the leases last at least leaseTtlMs from here.
    const sentAt = performance.now();
    try {
      beat = await this.#store.heartbeat(info, this.#options.leaseTtlMs);
      this.#renewedAt = sentAt;
    } catch (error) {
      this.#renewalFailures++;
      this.#log.warn({ err: (error as Error).message }, "could not renew membership and target leases");
      return;
    }
    this.#members = beat.members.map((m) => m.id);
    const key = [...this.#members].sort().join("\n");
    if (key !== this.#owners.key) this.#owners = { key, owners: new Map() };
    // Now and then, forget commands done long ago (any replica may).
    if (++this.#beats % PRUNE_EVERY_BEATS === 0) await this.#prune();
    const held = new Map(beat.leases.map((l) => [l.target, l.epoch]));
    for (const [target, owned] of this.#owned) {
      if (held.get(target) !== owned.epoch) this.lost(target);
    }
    // Taking and giving targets goes on at the next heartbeat once this one has run long enough: the
    // leases were renewed when it was sent, and the next renewal must come before the fence margin.
    const until = sentAt + this.#rebalanceBudgetMs;
    await this.#releaseDropped(beat.leases, until);
    if (!rebalance || !this.#running) return;
    let took = false;
    for (const target of this.#host.targets()) {
      if (performance.now() > until) {
        this.#unbalanced = true;
        break;
      }
      const owner = this.#ownerOf(target);
      if (!this.#running) return;
      // A run of the target from before this replica dropped it may still be ending here: taken
      // back now, its last writes would carry the new lease's epoch and be let through.
      if (owner === this.#id && !this.#owned.has(target) && !this.#host.busy(target))
        took = (await this.#acquire(target)) || took;
      else if (owner !== this.#id && this.#owned.has(target) && !this.#host.busy(target))
        await this.#release(target);
    }
    // Commands a previous owner left open are carried out now, not at the next poll.
    if (took) await this.pollTriggers();
    await this.#refreshOthers();
  }

  /**
   * Frees the leases the database still holds in this replica's name for
   * targets it dropped (it fenced itself while a renewal was slow, or a write
   * for the target was refused): each heartbeat renews every lease under its
   * name, so one left there would keep the target from the replica it hashes
   * to for good. Taken back, a target gets a new epoch.
   */
  async #releaseDropped(leases: readonly TargetLease[], until: number): Promise<void> {
    for (const { target, epoch } of leases) {
      if (this.#owned.has(target)) continue;
      if (performance.now() > until) {
        this.#unbalanced = true;
        return;
      }
      try {
        await this.#store.releaseTarget(target, { owner: this.#id, epoch });
        this.#log.info({ target, epoch }, "released the lease of a target this replica had dropped");
      } catch (error) {
        this.#log.warn(
          { target, err: (error as Error).message },
          "could not release the lease of a dropped target; it is released at the next heartbeat",
        );
      }
    }
  }

  /** Reads other replicas' targets' statuses into the view; a failure keeps the view as it was. */
  async #refreshOthers(): Promise<void> {
    const others = [...this.#host.targets()].filter((t) => !this.#owned.has(t));
    if (others.length === 0) return;
    try {
      await this.#host.refreshOthers(others);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, "could not read other replicas' statuses");
    }
  }

  /**
   * The rendezvous owner of a target among the current members, remembered
   * until the members change: each rebalance asks it of every target.
   */
  #ownerOf(target: string): string | undefined {
    const owners = this.#owners.owners;
    if (!owners.has(target)) owners.set(target, rendezvousOwner(this.#members, target));
    return owners.get(target);
  }

  async #prune(): Promise<void> {
    try {
      await this.#store.pruneTriggers(KEEP_DONE_TRIGGERS_MS);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, "could not prune done triggers");
    }
  }

  /** Takes a target's lease if it is free; `true` when taken. */
  async #acquire(target: string): Promise<boolean> {
    let acquired: Acquired;
    try {
      acquired = await this.#store.acquireTarget(target, this.#id, this.#options.leaseTtlMs);
    } catch (error) {
      this.#log.warn({ target, err: (error as Error).message }, "could not take a target's lease");
      return false;
    }
    if (!acquired.taken) return false;
    this.#owned.set(target, { epoch: acquired.lease.epoch, abort: new AbortController() });
    this.#epochs.set(target, acquired.lease.epoch);
    if (acquired.tookOverFrom) {
      this.#takeovers++;
      this.#log.warn(
        { target, from: acquired.tookOverFrom, epoch: acquired.lease.epoch },
        "took over a target from a replica that stopped",
      );
    } else {
      this.#log.info({ target, epoch: acquired.lease.epoch }, "took a target");
    }
    await this.#host.take(target, acquired);
    return true;
  }

  async #release(target: string): Promise<void> {
    if (!this.owns(target)) return;
    const fence = this.fence(target);
    this.#owned.delete(target);
    this.#host.drop(target, false);
    try {
      await this.#store.releaseTarget(target, fence);
      this.#log.info({ target }, "released a target to the replica it hashes to");
    } catch (error) {
      this.#log.warn(
        { target, err: (error as Error).message },
        "could not release a target; its lease lapses",
      );
    }
  }
}
