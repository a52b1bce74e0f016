/** A counting semaphore that serves waiters in arrival order; waiting can be aborted. */
export class Semaphore {
  #free: number;
  readonly #waiters: { grant: () => void; reject: (reason: unknown) => void }[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Waits for a permit; returns the function that gives it back (call it once). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
    return this.#releaser();
  }

  /** Permits in use plus waiters: how busy the resource is. */
  get waiting(): number {
    return this.#waiters.length;
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next.grant();
      else this.#free++;
    };
  }
}
