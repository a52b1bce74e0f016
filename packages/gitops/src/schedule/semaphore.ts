/**
 * A counting semaphore that serves waiters in arrival order; waiting can be
 * aborted. Kept rather than p-limit or p-queue: a run holds its engine slot
 * across several awaited steps (acquire here, release in the run's
 * `finally`) and must give up waiting when its signal aborts, with the
 * signal's reason; p-limit only wraps one function and cannot drop a waiter,
 * and p-queue's task model would need this same wrapper around it.
 */
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
