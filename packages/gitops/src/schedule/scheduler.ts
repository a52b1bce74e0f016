/**
 * The timers that queue runs: the interval with jitter, cron schedules,
 * retries with capped exponential backoff, change windows opening and
 * promotions coming due. A run's follow-ups (see `run.ts`) set the last three.
 */
import { Cron } from "croner";
import type { Logger } from "pino";
import { RetryableError } from "../errors.js";
import type { Clock } from "../options.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { RunRequest } from "./queue.js";

/** What a finished run asks the scheduler to do next. */
export interface FollowUps {
  /** A retryable failure: retry with backoff (the error may hint a delay). */
  readonly retry?: { readonly error: unknown };
  /** Changes wait for a change window opening then. */
  readonly windowOpensAt?: Date;
  /** The run applied: an older window deferral has nothing left to do. */
  readonly applied?: boolean;
  /** An upstream revision becomes due for promotion then. */
  readonly promotionDueAt?: Date;
}

interface Timers {
  interval?: NodeJS.Timeout;
  retry?: NodeJS.Timeout;
  window?: NodeJS.Timeout;
  promotion?: NodeJS.Timeout;
  cron?: Cron;
  /** Retries since the last run that did not fail. */
  attempts: number;
  /** When the interval, retry, window and promotion timers fire (epoch milliseconds). */
  due?: { interval?: number; retry?: number; window?: number; promotion?: number };
}

/** Per-target timers; each fires a run request unless the target is suspended or gone. */
export class Scheduler {
  readonly #timers = new Map<string, Timers>();
  readonly #request: (target: string, request: RunRequest) => void;
  /** Whether scheduled runs of a target may start now (exists, not suspended, scheduling on). */
  readonly #mayRun: (target: string, scheduled: boolean) => boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #log: Logger;
  readonly #onRetry: ((target: string, at: Date) => void) | undefined;

  constructor(options: {
    readonly request: (target: string, request: RunRequest) => void;
    readonly mayRun: (target: string, scheduled: boolean) => boolean;
    readonly clock: Clock;
    readonly random: () => number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly logger: Logger;
    /** A retry was scheduled for `at` (stored, so a restart keeps it). */
    readonly onRetry?: (target: string, at: Date) => void;
  }) {
    this.#onRetry = options.onRetry;
    this.#request = options.request;
    this.#mayRun = options.mayRun;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#retryBaseMs = options.retryBaseMs;
    this.#retryMaxMs = options.retryMaxMs;
    this.#log = options.logger;
  }

  /**
   * (Re)starts a target's interval and cron, the window timer of a change
   * deferred earlier and the retry of a run that failed earlier.
   */
  schedule(spec: ResolvedTarget, deferredUntil: string | undefined, retryAt?: string): void {
    this.unschedule(spec.name);
    const timers = this.#of(spec.name);
    // A change deferred for its window (by this process or one before it) still runs when it opens.
    if (deferredUntil) this.#window(spec.name, new Date(deferredUntil));
    // So does the retry of a run that failed before a restart.
    if (retryAt) this.#retryAt(spec.name, Date.parse(retryAt));
    const tick = () => {
      const delay = spec.intervalMs * (1 + this.#random() * spec.jitter);
      timers.due = { ...timers.due, interval: this.#clock.now() + delay };
      timers.interval = setTimeout(() => {
        if (this.#mayRun(spec.name, true)) this.#request(spec.name, { trigger: "interval", force: false });
        tick();
      }, delay);
      timers.interval.unref();
    };
    tick();
    if (spec.schedule) {
      timers.cron = new Cron(spec.schedule, { unref: true }, () => {
        if (this.#mayRun(spec.name, true)) this.#request(spec.name, { trigger: "schedule", force: true });
      });
    }
  }

  /** Stops every timer of a target (its retry count is kept). */
  unschedule(target: string): void {
    const timers = this.#timers.get(target);
    if (!timers) return;
    clearTimeout(timers.interval);
    clearTimeout(timers.retry);
    clearTimeout(timers.window);
    clearTimeout(timers.promotion);
    timers.cron?.stop();
    this.#timers.set(target, { attempts: timers.attempts });
  }

  /**
   * When the next timer of a target fires (interval, cron, retry, change
   * window or promotion), or `undefined` when none is set.
   */
  nextRunAt(target: string): Date | undefined {
    const timers = this.#timers.get(target);
    if (!timers) return undefined;
    const set = [
      timers.interval ? timers.due?.interval : undefined,
      timers.retry ? timers.due?.retry : undefined,
      timers.window ? timers.due?.window : undefined,
      timers.promotion ? timers.due?.promotion : undefined,
      timers.cron?.nextRun()?.getTime(),
    ].filter((t): t is number => t !== undefined);
    return set.length > 0 ? new Date(Math.min(...set)) : undefined;
  }

  /** Forgets a target. */
  remove(target: string): void {
    this.unschedule(target);
    this.#timers.delete(target);
  }

  /** A run that was not skipped ran: the next failure starts the backoff afresh. */
  resetAttempts(target: string): void {
    this.#of(target).attempts = 0;
  }

  /** Applies what a finished run asks for. */
  followUp(target: string, followUps: FollowUps): void {
    if (followUps.retry) this.#retry(target, followUps.retry.error);
    if (followUps.windowOpensAt) this.#window(target, followUps.windowOpensAt);
    if (followUps.applied) {
      const timers = this.#of(target);
      clearTimeout(timers.window);
      timers.window = undefined;
    }
    if (followUps.promotionDueAt) {
      const timers = this.#of(target);
      clearTimeout(timers.promotion);
      timers.promotion = this.#at(target, followUps.promotionDueAt, 250, {
        trigger: "promotion",
        force: false,
      });
      timers.due = { ...timers.due, promotion: followUps.promotionDueAt.getTime() };
    }
  }

  /** Queues a run for when a change window opens (timers cap at ~24 days; a later run sets the next). */
  #window(target: string, opensAt: Date): void {
    const timers = this.#of(target);
    clearTimeout(timers.window);
    timers.window = this.#at(target, opensAt, 1000, { trigger: "schedule", force: true });
    timers.due = { ...timers.due, window: opensAt.getTime() };
  }

  #retry(target: string, error: unknown): void {
    const timers = this.#of(target);
    timers.attempts++;
    const hinted = error instanceof RetryableError ? error.retryAfterMs : 0;
    const backoff = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (timers.attempts - 1));
    const delay = Math.max(hinted, backoff * (0.5 + this.#random()));
    const at = this.#clock.now() + delay;
    this.#retryAt(target, at);
    this.#log.info({ target, attempt: timers.attempts, delayMs: Math.round(delay) }, "retry scheduled");
    this.#onRetry?.(target, new Date(at));
  }

  #retryAt(target: string, at: number): void {
    const timers = this.#of(target);
    clearTimeout(timers.retry);
    timers.due = { ...timers.due, retry: at };
    timers.retry = setTimeout(
      () => {
        if (this.#mayRun(target, false)) this.#request(target, { trigger: "retry", force: true });
      },
      Math.min(2 ** 31 - 1, Math.max(0, at - this.#clock.now())),
    );
    timers.retry.unref();
  }

  /** A timer that queues a run shortly after `at`, unless the target is gone, suspended or stopped. */
  #at(target: string, at: Date, marginMs: number, request: RunRequest): NodeJS.Timeout {
    const delay = Math.min(2 ** 31 - 1, Math.max(0, at.getTime() - this.#clock.now()) + marginMs);
    const timer = setTimeout(() => {
      if (this.#mayRun(target, true)) this.#request(target, request);
    }, delay);
    timer.unref();
    return timer;
  }

  #of(target: string): Timers {
    let timers = this.#timers.get(target);
    if (!timers) {
      timers = { attempts: 0 };
      this.#timers.set(target, timers);
    }
    return timers;
  }
}
