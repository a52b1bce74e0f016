/**
 * Live updates: the reconciler's events as Server-Sent Events. One
 * subscription per handler fans out to every open page; a comment every
 * `heartbeatMs` keeps proxies from closing idle streams, and the `retry`
 * field tells browsers how soon to reconnect after a drop. Each page gets only
 * the events of the targets its viewer may read (the filter it attached with).
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ReconcilerEventName, ReconcilerEvents } from "../../events.js";
import type { Reconciler } from "../../reconciler.js";

/** Events forwarded to pages: enough to know what to refresh, never a secret (messages are redacted). */
const FORWARDED: readonly ReconcilerEventName[] = [
  "run.started",
  "run.progress",
  "run.finished",
  "drift.detected",
  "revision.applied",
  "gate.refused",
  "stalled",
  "promoted",
  "recovered",
  "resources.recorded",
];

/** What a page receives of an event. */
function payloadOf(name: ReconcilerEventName, event: ReconcilerEvents[ReconcilerEventName]): object {
  const e = event as Partial<Record<string, unknown>>;
  const base = { target: e.target, ...(typeof e.runId === "string" ? { runId: e.runId } : {}) };
  if (name === "run.progress") return { ...base, step: e.step, message: e.message };
  if (name === "run.finished") return { ...base, result: e.result };
  return base;
}

/** Whether a page may receive the events of a target. */
export type TargetFilter = (target: string) => boolean;

/** The open event streams of one handler. */
export class LiveHub {
  /** Each open stream, and which targets' events it receives. */
  readonly #clients = new Map<ServerResponse, TargetFilter>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #heartbeat: NodeJS.Timeout;
  /** Counts the events that change what a page shows (progress lines do not). */
  #seq = 0;
  /** Names this hub: after a restart the count starts again, so a page compares both. */
  readonly epoch = randomBytes(6).toString("base64url");

  constructor(reconciler: Reconciler, redact: (text: string) => string, heartbeatMs = 25_000) {
    for (const name of FORWARDED) {
      this.#unsubscribe.push(
        reconciler.on(name, (event) => {
          if (name !== "run.progress") this.#seq++;
          const payload = payloadOf(name, event);
          const data = redact(JSON.stringify({ ...payload, seq: this.#seq }));
          this.#broadcast(name, (payload as { target?: unknown }).target, data);
        }),
      );
    }
    this.#heartbeat = setInterval(() => this.#write(": keep-alive\n\n"), heartbeatMs);
    this.#heartbeat.unref();
  }

  /** The number of the last event that changed what pages show. */
  get seq(): number {
    return this.#seq;
  }

  /** How many pages are connected. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Adopts a response whose headers were written: it receives the events of
   * the targets `mayRead` allows (and the heartbeats) until it closes.
   */
  attach(res: ServerResponse, mayRead: TargetFilter): void {
    // The page compares `seq` with the one it was rendered at, and catches up if it missed events.
    res.write(`retry: 2000\nevent: hello\ndata: {"seq":${this.#seq},"epoch":"${this.epoch}"}\n\n`);
    this.#clients.set(res, mayRead);
    res.on("close", () => this.#clients.delete(res));
  }

  /** Ends every stream and stops following events. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const off of this.#unsubscribe) off();
    for (const res of this.#clients.keys()) res.end();
    this.#clients.clear();
  }

  /** Sends an event to the pages that may read its target (every forwarded event names one). */
  #broadcast(name: string, target: unknown, data: string): void {
    if (typeof target !== "string") return;
    const chunk = `event: ${name}\ndata: ${data}\n\n`;
    for (const [res, mayRead] of this.#clients) if (mayRead(target)) res.write(chunk);
  }

  #write(chunk: string): void {
    for (const res of this.#clients.keys()) res.write(chunk);
  }
}
