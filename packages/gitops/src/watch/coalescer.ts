/**
 * Gathers the changed resources of each target over a short window and hands
 * them over once: a burst of edits (an `kubectl apply` of several objects, a
 * Deployment and its Service) becomes one drift check. Changes whose window
 * ends during a run of the target wait for the run's end, and changes seen
 * before a run began refreshing every resource of the target are dropped: that
 * refresh read them, so a drift check of them would only repeat it.
 */

/** What a flush hands over for one target. */
export interface CoalescedChanges {
  /** The changed resources' URNs, in the order first seen. */
  readonly urns: readonly string[];
  /** When the earliest of the changes was made (epoch milliseconds). */
  readonly since: number;
}

/** What decides, besides the window, when a target's changes are handed over. */
export interface CoalescerOptions {
  /** Whether a run of the target is under way: its changes wait for {@link Coalescer.runEnded}. */
  readonly inRun?: (target: string) => boolean;
  /** Told of changes dropped because a full refresh read them (see {@link Coalescer.refreshed}). */
  readonly covered?: (target: string, changes: CoalescedChanges) => void;
}

interface Gathered {
  readonly urns: Set<string>;
  since: number;
  /** When the latest of the changes was seen here (epoch milliseconds). */
  seen: number;
}

/** A per-target window: the first change opens it, its end hands over every change seen in it. */
export class Coalescer {
  readonly #windowMs: number;
  readonly #flush: (target: string, changes: CoalescedChanges) => void;
  readonly #options: CoalescerOptions;
  readonly #pending = new Map<string, Gathered & { timer: NodeJS.Timeout }>();
  /** Changes whose window ended during a run of their target. */
  readonly #deferred = new Map<string, Gathered>();
  /** When the latest full refresh of each target began. */
  readonly #refreshed = new Map<string, number>();

  /**
   * @param windowMs - how long after a target's first change its changes are handed over
   * @param flush - receives each target's changes once its window ends (or, during a run, once it ends)
   */
  constructor(
    windowMs: number,
    flush: (target: string, changes: CoalescedChanges) => void,
    options: CoalescerOptions = {},
  ) {
    this.#windowMs = windowMs;
    this.#flush = flush;
    this.#options = options;
  }

  /**
   * Adds changed resources of a target, made at `at` and seen at `seenAt`
   * (epoch milliseconds; `seenAt` defaults to now).
   */
  add(target: string, urns: Iterable<string>, at: number, seenAt: number = Date.now()): void {
    let entry = this.#pending.get(target);
    if (!entry) {
      const timer = setTimeout(() => this.#fire(target), this.#windowMs);
      timer.unref();
      entry = { urns: new Set(), since: at, seen: seenAt, timer };
      this.#pending.set(target, entry);
    }
    gather(entry, urns, at, seenAt);
  }

  /** Whether a target has changes waiting for its window (or its run) to end. */
  pending(target: string): boolean {
    return this.#pending.has(target) || this.#deferred.has(target);
  }

  /**
   * A run of the target refreshed every resource, from `startedAt` (epoch
   * milliseconds) on: the changes seen before then are in what it read, and
   * are dropped rather than checked again.
   */
  refreshed(target: string, startedAt: number): void {
    this.#refreshed.set(target, Math.max(this.#refreshed.get(target) ?? 0, startedAt));
    const pending = this.#pending.get(target);
    if (pending && pending.seen < startedAt) {
      clearTimeout(pending.timer);
      this.#pending.delete(target);
      this.#options.covered?.(target, changesOf(pending));
    }
  }

  /** A run of the target ended: its changes whose window ended meanwhile are handed over now. */
  runEnded(target: string): void {
    const deferred = this.#deferred.get(target);
    this.#deferred.delete(target);
    if (deferred) this.#handOver(target, deferred);
  }

  /** Drops a target's waiting changes (a removed target, one no longer watched). */
  drop(target: string): void {
    const entry = this.#pending.get(target);
    if (entry) clearTimeout(entry.timer);
    this.#pending.delete(target);
    this.#deferred.delete(target);
    this.#refreshed.delete(target);
  }

  /** Drops every waiting change and timer. */
  clear(): void {
    for (const target of new Set([...this.#pending.keys(), ...this.#deferred.keys()])) this.drop(target);
    this.#refreshed.clear();
  }

  #fire(target: string): void {
    const entry = this.#pending.get(target);
    if (!entry) return;
    this.#pending.delete(target);
    if (!this.#options.inRun?.(target)) {
      this.#handOver(target, entry);
      return;
    }
    const deferred = this.#deferred.get(target) ?? {
      urns: new Set<string>(),
      since: entry.since,
      seen: entry.seen,
    };
    gather(deferred, entry.urns, entry.since, entry.seen);
    this.#deferred.set(target, deferred);
  }

  #handOver(target: string, gathered: Gathered): void {
    const refreshed = this.#refreshed.get(target);
    if (refreshed !== undefined && gathered.seen < refreshed)
      this.#options.covered?.(target, changesOf(gathered));
    else this.#flush(target, changesOf(gathered));
  }
}

/** Adds changes made at `since` and seen at `seen` to those gathered. */
function gather(into: Gathered, urns: Iterable<string>, since: number, seen: number): void {
  into.since = Math.min(into.since, since);
  into.seen = Math.max(into.seen, seen);
  for (const urn of urns) into.urns.add(urn);
}

function changesOf(gathered: Gathered): CoalescedChanges {
  return { urns: [...gathered.urns], since: gathered.since };
}
