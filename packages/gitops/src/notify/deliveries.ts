/**
 * Outbound deliveries (commit statuses, comments, notifications) off the run
 * path: a queue per channel, sent one at a time with a minimum spacing (rate
 * limit), each attempt under a timeout, retried with exponential backoff and
 * jitter. Nothing here is awaited by a run; a receiver that hangs or fails
 * only delays its own channel.
 */
import type { Logger } from "pino";
import { Redactor } from "../spec/secrets.js";
import { sleep } from "../util.js";

/** Outcome of one delivery, as counted in `driftless_notifications_total`. */
export type DeliveryOutcome = "delivered" | "retried" | "failed" | "dropped";

/** Tuning of {@link DeliveryQueue}. */
export interface DeliveryOptions {
  /** Attempts per delivery, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** Pause before the first retry; doubles per attempt, with jitter. @default 1000 */
  readonly retryBaseMs?: number;
  /** Longest pause between attempts. @default 60000 */
  readonly retryMaxMs?: number;
  /** Time one attempt may take before it is aborted. @default 10000 */
  readonly timeoutMs?: number;
  /** Least time between the starts of two sends on one channel (the rate limit). @default 250 */
  readonly minIntervalMs?: number;
  /** Deliveries a channel holds; beyond that the oldest is dropped (and counted). @default 1000 */
  readonly maxQueued?: number;
}

/** A failed send; `retryable` says whether trying again may help (5xx, 429, network, timeout). */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** Throws a {@link DeliveryError} for a response that is not 2xx, retryable for 5xx and 429. */
export async function expectOk(response: Response, what: string): Promise<Response> {
  if (response.ok) return response;
  const text = (await response.text().catch(() => "")).slice(0, 200);
  throw new DeliveryError(
    `${what}: HTTP ${response.status}${text ? ` ${text}` : ""}`,
    response.status >= 500 || response.status === 429,
  );
}

interface Job {
  readonly what: string;
  /** Counted under this name (the provider), whatever the channel. */
  readonly label: string;
  readonly send: (signal: AbortSignal) => Promise<void>;
}

interface Channel {
  readonly jobs: Job[];
  running: Promise<void> | undefined;
  lastStart: number;
}

/** Per-channel queues of sends with rate limit, timeout, retry and backoff. */
export class DeliveryQueue {
  readonly #channels = new Map<string, Channel>();
  readonly #closed = new AbortController();
  readonly #options: Required<DeliveryOptions>;
  readonly #count: (channel: string, outcome: DeliveryOutcome) => void;
  readonly #log: Logger | undefined;
  readonly #redactor: Redactor;

  constructor(
    options: DeliveryOptions = {},
    hooks: {
      readonly count?: (channel: string, outcome: DeliveryOutcome) => void;
      readonly logger?: Logger;
      /** Hides secrets (tokens, webhook URLs) from logged errors. */
      readonly redactor?: Redactor;
    } = {},
  ) {
    this.#options = {
      maxAttempts: options.maxAttempts ?? 5,
      retryBaseMs: options.retryBaseMs ?? 1000,
      retryMaxMs: options.retryMaxMs ?? 60_000,
      timeoutMs: options.timeoutMs ?? 10_000,
      minIntervalMs: options.minIntervalMs ?? 250,
      maxQueued: options.maxQueued ?? 1000,
    };
    this.#count = hooks.count ?? (() => undefined);
    this.#log = hooks.logger;
    this.#redactor = hooks.redactor ?? new Redactor();
  }

  /**
   * Queues a send on a channel and returns at once. Sends on one channel go
   * in order; `label` names the provider in counts (several channels may share it).
   */
  push(
    channel: string,
    what: string,
    send: (signal: AbortSignal) => Promise<void>,
    label: string = channel,
  ): void {
    if (this.#closed.signal.aborted) return;
    let state = this.#channels.get(channel);
    if (!state) {
      state = { jobs: [], running: undefined, lastStart: 0 };
      this.#channels.set(channel, state);
    }
    state.jobs.push({ what, label, send });
    while (state.jobs.length > this.#options.maxQueued) {
      const dropped = state.jobs.shift();
      this.#count(dropped?.label ?? channel, "dropped");
      this.#log?.warn({ channel, what: dropped?.what }, "delivery queue full; dropped the oldest");
    }
    if (!state.running) {
      const current = state;
      state.running = this.#drain(channel, current).finally(() => {
        current.running = undefined;
      });
    }
  }

  /** Resolves when every channel's queue is empty (for tests and shutdown). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const running = [...this.#channels.values()].flatMap((c) => (c.running ? [c.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Stops sending: queued deliveries are dropped, attempts in flight aborted. */
  close(): void {
    this.#closed.abort(new Error("the delivery queue is closed"));
    for (const channel of this.#channels.values()) {
      for (const job of channel.jobs.splice(0)) this.#count(job.label, "dropped");
    }
  }

  async #drain(name: string, channel: Channel): Promise<void> {
    for (let job = channel.jobs.shift(); job; job = channel.jobs.shift()) {
      await this.#deliver(name, channel, job).catch(() => undefined);
      if (this.#closed.signal.aborted) return;
    }
  }

  async #deliver(name: string, channel: Channel, job: Job): Promise<void> {
    const { maxAttempts, retryBaseMs, retryMaxMs, timeoutMs, minIntervalMs } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const wait = channel.lastStart + minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait, this.#closed.signal);
      channel.lastStart = Date.now();
      try {
        await job.send(AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#closed.signal]));
        this.#count(job.label, "delivered");
        return;
      } catch (error) {
        if (this.#closed.signal.aborted) throw error;
        const timedOut = (error as Error)?.name === "TimeoutError" || (error as Error)?.name === "AbortError";
        const retryable = error instanceof DeliveryError ? error.retryable : true;
        const message = this.#redactor.redact(
          timedOut ? `no answer within ${timeoutMs} ms` : String((error as Error)?.message ?? error),
        );
        if (!retryable || attempt >= maxAttempts) {
          this.#count(job.label, "failed");
          this.#log?.warn(
            { channel: name, what: job.what, attempts: attempt },
            `delivery failed: ${message}`,
          );
          throw error;
        }
        this.#count(job.label, "retried");
        this.#log?.debug({ channel: name, what: job.what, attempt }, `delivery failed, retrying: ${message}`);
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempt - 1));
        await sleep(delay * (0.5 + Math.random() / 2), this.#closed.signal);
      }
    }
  }
}
