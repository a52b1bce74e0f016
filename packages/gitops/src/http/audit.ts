/**
 * The router's audit hook: request ids, and one audit entry for each attempt
 * the log records — every request of a route with an `audit` action (the
 * control API's commands, the dashboard's actions, login and logout), and
 * every refusal (401, 403) of any authenticated route. Successful reads are
 * not recorded: they are many, change nothing, and the access log has them.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import type { Redactor } from "../spec/secrets.js";
import { type AuditRecord, outcomeOf } from "../store/audit/chain.js";
import type { AuditStore } from "../store/store.js";
import type { Identity } from "./auth/identity.js";

/** The header a request id arrives in from a proxy, and is echoed in. */
export const REQUEST_ID_HEADER = "x-request-id";

/** What a proxy's request id may look like to be reused (anything else gets a new one). */
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** The request's id: the proxy's `x-request-id` when it sends a plausible one, else a new random one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

/** One attempt as the router saw it, for {@link AuditHook.record}. */
export interface Attempt {
  readonly req: IncomingMessage;
  /** The route's request path (without the mount prefix) and its decoded parameters. */
  readonly path: string;
  readonly params: readonly string[];
  /** The action the route records, if it records every request. */
  readonly action: string | undefined;
  readonly identity: Pick<Identity, "id" | "name"> | undefined;
  readonly requestId: string;
  readonly status: number;
  /** The reply's body (its `error` becomes the entry's detail). */
  readonly body: unknown;
  /** The reply's own detail (see `Reply.detail`), before the body's. */
  readonly detail?: string;
}

/** Appends the router's audit entries; a failed append never fails the request. */
export class AuditHook {
  readonly #store: AuditStore;
  readonly #redactor: () => Redactor;
  readonly #log: Logger | undefined;

  constructor(store: AuditStore, redactor: () => Redactor, log?: Logger) {
    this.#store = store;
    this.#redactor = redactor;
    this.#log = log;
  }

  /**
   * Records an attempt when the log keeps it (see the top of this file).
   * Resolves once the entry is stored, or once storing it failed: the
   * router answers after that, so no reply goes out that the log lacks; a
   * store that is down fails fast (its breaker) and does not fail the reply
   * (a command it could not store was refused by it anyway); the failure is
   * logged. Never rejects.
   */
  async record(attempt: Attempt): Promise<void> {
    const refused = attempt.status === 401 || attempt.status === 403;
    if (attempt.action === undefined && !refused) return;
    const entry = this.entry(attempt);
    await this.#store
      .appendAudit(entry)
      .then(() => undefined)
      .catch((error: unknown) =>
        this.#log?.error(
          { err: error, action: entry.action, status: entry.status, requestId: entry.requestId },
          "could not append to the audit log",
        ),
      );
  }

  /** The entry an attempt makes; its detail masked by the router's redactor. */
  entry(attempt: Attempt): AuditRecord {
    const { req, params, path, identity, status } = attempt;
    const target = /^\/(?:ui\/)?targets\//.test(path) ? params[0] : undefined;
    const error = (attempt.body as { error?: unknown } | undefined)?.error;
    const runId = (attempt.body as { runId?: unknown } | undefined)?.runId;
    const detail =
      attempt.detail ??
      (typeof error === "string" ? error : typeof runId === "string" ? `run ${runId}` : undefined);
    return {
      ...(identity ? { actorId: identity.id, actor: identity.name } : {}),
      ...(req.socket.remoteAddress ? { source: req.socket.remoteAddress } : {}),
      action: attempt.action ?? (req.method === "GET" ? "read" : (req.method ?? "request").toLowerCase()),
      ...(target !== undefined ? { target } : {}),
      outcome: outcomeOf(status),
      status,
      requestId: attempt.requestId,
      ...(detail !== undefined ? { detail: this.#redactor().redact(detail) } : {}),
    };
  }
}
