/**
 * A set that remembers the most recent `capacity` keys, forgetting the oldest
 * first; it bounds the memory spent on webhook delivery ids.
 */
export class BoundedSet {
  readonly #capacity: number;
  readonly #keys = new Set<string>();

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Adds a key; returns `false` when it was already there (a repeat). */
  add(key: string): boolean {
    if (this.#keys.has(key)) {
      // A repeat counts as recent use, so a retried delivery stays known.
      this.#keys.delete(key);
      this.#keys.add(key);
      return false;
    }
    this.#keys.add(key);
    if (this.#keys.size > this.#capacity) this.#keys.delete(this.#keys.values().next().value as string);
    return true;
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  get size(): number {
    return this.#keys.size;
  }
}
