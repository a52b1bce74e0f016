/**
 * Bounds on Server-Sent Event streams (the dashboard's live updates, followed
 * run logs): how many are open in all and per client address, and how long
 * one lasts. A stream holds a socket and memory for as long as it is open, and
 * no request timeout ends it; without bounds a client can exhaust the
 * process's file handles. Clients reconnect and catch up, so ending a stream
 * after its lifetime loses nothing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Limits on event streams (the handler's `streams` option). */
export interface StreamLimits {
  /** Most streams open at once; more are answered 503. @default 500 */
  readonly max?: number;
  /**
   * Most streams open at once from one client address; more are answered 503.
   * Behind a proxy every client shares its address: raise it there.
   * @default 20
   */
  readonly perClient?: number;
  /** How long a stream stays open before the server ends it (the client reconnects). @default 600000 (10 minutes) */
  readonly maxLifetimeMs?: number;
}

/** Counts open streams and ends each after its lifetime. */
export class StreamGate {
  readonly #max: number;
  readonly #perClient: number;
  readonly #lifetimeMs: number;
  readonly #byClient = new Map<string, number>();
  #open = 0;

  /** @throws RangeError naming the limit and its value when it is not a whole number of at least 1 */
  constructor(limits: StreamLimits = {}) {
    this.#max = positive(limits.max ?? 500, "streams.max");
    this.#perClient = positive(limits.perClient ?? 20, "streams.perClient");
    this.#lifetimeMs = positive(limits.maxLifetimeMs ?? 600_000, "streams.maxLifetimeMs");
  }

  /** Streams open now. */
  get size(): number {
    return this.#open;
  }

  /**
   * Counts a new stream for `req` until `res` closes, and ends it after its
   * lifetime; or says why it is refused (the limit reached), counting nothing.
   */
  admit(req: IncomingMessage, res: ServerResponse): string | undefined {
    const client = req.socket.remoteAddress ?? "unknown";
    const fromClient = this.#byClient.get(client) ?? 0;
    if (this.#open >= this.#max) return `too many open event streams (at most ${this.#max})`;
    if (fromClient >= this.#perClient) {
      return `too many open event streams from ${client} (at most ${this.#perClient})`;
    }
    this.#open++;
    this.#byClient.set(client, fromClient + 1);
    const timer = setTimeout(() => res.end(), this.#lifetimeMs);
    timer.unref();
    res.once("close", () => {
      clearTimeout(timer);
      this.#open--;
      const left = (this.#byClient.get(client) ?? 1) - 1;
      if (left > 0) this.#byClient.set(client, left);
      else this.#byClient.delete(client);
    });
    return undefined;
  }
}

function positive(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${field} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}

/**
 * Passes every chunk written to `res` through `mask` (text and UTF-8 bytes),
 * and drops writes once the response has ended (a stream ended by its
 * lifetime may still be written to before its writer notices).
 */
export function guardWrites(res: ServerResponse, mask: ((text: string) => string) | undefined): void {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const masked = (chunk: unknown): unknown => {
    if (!mask) return chunk;
    if (typeof chunk === "string") return mask(chunk);
    if (chunk instanceof Uint8Array) return mask(Buffer.from(chunk).toString("utf8"));
    return chunk;
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) =>
    res.writableEnded ? false : write(masked(chunk), ...rest)) as ServerResponse["write"];
  res.end = ((...args: unknown[]) => {
    if (res.writableEnded) return res;
    if (args.length > 0 && typeof args[0] !== "function") args[0] = masked(args[0]);
    return end(...args);
  }) as ServerResponse["end"];
}
