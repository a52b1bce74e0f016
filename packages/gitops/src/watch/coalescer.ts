/**
 * Gathers the changed resources of each target over a short window and hands
 * them over once: a burst of edits (an `kubectl apply` of several objects, a
 * Deployment and its Service) becomes one drift check.
 */

/** What a flush hands over for one target. */
export interface CoalescedChanges {
  /** The changed resources' URNs, in the order first seen. */
  readonly urns: readonly string[];
  /** When the earliest of the changes was made (epoch milliseconds). */
  readonly since: number;
}

/** A per-target window: the first change opens it, its end hands over every change seen in it. */
export class Coalescer {
  readonly #windowMs: number;
  readonly #flush: (target: string, changes: CoalescedChanges) => void;
  readonly #pending = new Map<string, { urns: Set<string>; since: number; timer: NodeJS.Timeout }>();

  /**
   * @param windowMs - how long after a target's first change its changes are handed over
   * @param flush - receives each target's changes once its window ends
   */
  constructor(windowMs: number, flush: (target: string, changes: CoalescedChanges) => void) {
    this.#windowMs = windowMs;
    this.#flush = flush;
  }

  /** Adds changed resources of a target, made at `at` (epoch milliseconds). */
  add(target: string, urns: Iterable<string>, at: number): void {
    let entry = this.#pending.get(target);
    if (!entry) {
      const timer = setTimeout(() => this.#fire(target), this.#windowMs);
      timer.unref();
      entry = { urns: new Set(), since: at, timer };
      this.#pending.set(target, entry);
    }
    entry.since = Math.min(entry.since, at);
    for (const urn of urns) entry.urns.add(urn);
  }

  /** Whether a target has changes waiting for its window to end. */
  pending(target: string): boolean {
    return this.#pending.has(target);
  }

  /** Drops a target's waiting changes (a removed target, one no longer watched). */
  drop(target: string): void {
    const entry = this.#pending.get(target);
    if (entry) clearTimeout(entry.timer);
    this.#pending.delete(target);
  }

  /** Drops every waiting change and timer. */
  clear(): void {
    for (const target of [...this.#pending.keys()]) this.drop(target);
  }

  #fire(target: string): void {
    const entry = this.#pending.get(target);
    if (!entry) return;
    this.#pending.delete(target);
    this.#flush(target, { urns: [...entry.urns], since: entry.since });
  }
}
