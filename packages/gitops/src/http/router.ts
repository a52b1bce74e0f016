/**
 * A small router for the HTTP API: routes as data (method, path pattern,
 * who may call it), bearer-token checks, typed errors mapped to status codes,
 * and replies written as JSON.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import {
  DriftlessError,
  NothingToApproveError,
  ReconcilerStoppedError,
  SpecError,
  StoreUnavailableError,
  UnknownTargetError,
} from "../errors.js";
import type { Reconciler } from "../reconciler.js";
import { type Redactor, readSecret } from "../spec/secrets.js";
import type { SecretSource } from "../spec/spec.js";
import type { AuditStore } from "../store/store.js";
import { type AuditHook, REQUEST_ID_HEADER, requestIdOf } from "./audit.js";
import type { Identity } from "./auth/identity.js";
import { CONSUMED_BODY_MESSAGE, readBody } from "./body.js";
import type { ReconcilerMetrics } from "./metrics.js";
import type { PullRequestPreviews } from "./pulls.js";
import { safeEqual } from "./signatures.js";
import { guardWrites, type StreamGate } from "./streams.js";
import { redactJson } from "./views.js";

/** What a route answers. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Writes the response itself, as it goes (a stream of Server-Sent Events); the other fields are unused. */
  readonly stream?: (res: ServerResponse) => void;
  /** Who acted, when the route itself authenticated the caller (a dashboard session), for the audit log. */
  readonly actor?: Pick<Identity, "id" | "name">;
}

/** One request as a route sees it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
}

/** One route: `auth` says who may call it (`read` routes may be public). */
export interface Route {
  readonly method: "GET" | "POST";
  readonly pattern: RegExp;
  readonly auth: "none" | "read" | "control";
  /** The longest path parameter (decoded) the route takes. @default MAX_ECHOED */
  readonly maxParam?: number;
  /**
   * The action the audit log records every request of this route as (its
   * outcome included), or how to name it from the path's parameters. Without
   * one, only refusals (401, 403) are recorded.
   * @default - not recorded unless refused
   */
  readonly audit?: string | ((params: readonly string[]) => string);
  readonly handle: (ctx: RequestContext) => Reply | Promise<Reply>;
}

/** What route modules share. */
export interface Api {
  readonly reconciler: Reconciler;
  readonly metrics: ReconcilerMetrics;
  readonly maxBody: number;
  readonly prefix: string;
  readonly log: Logger | undefined;
  readonly draining: () => boolean;
  /** Previews pull requests from `pull_request` webhooks; without it they are ignored. */
  readonly pullRequests?: PullRequestPreviews;
  /** The audit log `GET /audit` and the dashboard read; without it they answer 404. */
  readonly audit?: AuditStore;
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});
export const fail = (status: number, message: string): Reply => json(status, { error: message });

/** The longest name, id or search a reply echoes; target names have at most 63 characters, run ids 36. */
export const MAX_ECHOED = 256;

/** The longest resource URN a path takes (nested components make long ones). */
export const MAX_URN = 2048;

/** A request header's first value. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A 404 for a target the reconciler does not manage, else `undefined`. */
export function unknownTarget(api: Api, name: string): Reply | undefined {
  return api.reconciler.target(name) ? undefined : fail(404, `unknown target "${name}"`);
}

/** A JSON object body (an empty body is `{}`), or the Reply refusing it. */
export async function readJsonObject(
  api: Api,
  req: IncomingMessage,
  expected: string,
): Promise<{ readonly body: Readonly<Record<string, unknown>> } | Reply> {
  const body = await readBody(req, api.maxBody);
  if (body === "too-large") return fail(413, `the body is larger than ${api.maxBody} bytes`);
  if (body === "consumed") return fail(400, CONSUMED_BODY_MESSAGE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === "string" && body.trim() !== "" ? body : "{}");
  } catch {
    return fail(400, "the body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return fail(400, `the body must be a JSON object${expected}, got ${JSON.stringify(parsed)}`);
  }
  return { body: parsed as Record<string, unknown> };
}

/** The status code of a command's error: typed errors, never their text. */
export function errorReply(error: unknown): Reply | undefined {
  if (error instanceof UnknownTargetError) return fail(404, error.message);
  if (error instanceof SpecError) return fail(400, error.message);
  if (error instanceof NothingToApproveError) return fail(409, error.message);
  if (error instanceof ReconcilerStoppedError) return fail(503, "the reconciler is shutting down");
  // The command could not be stored (the database is away): refused, so the caller retries it.
  if (error instanceof StoreUnavailableError) return fail(503, error.message);
  if (error instanceof DriftlessError) return fail(409, error.message);
  return undefined;
}

/** A request's bearer token, if it carries one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header(req, "authorization") ?? "")?.[1]?.trim() || undefined;
}

/** Whether `given` is one of the tokens; every one is compared, so the time taken does not say which matched. */
export function tokenMatches(
  tokens: readonly SecretSource[],
  given: string | undefined,
  log?: Logger,
): boolean {
  return tokenIndex(tokens, given, log) >= 0;
}

/** The position of `given` among the tokens (-1 when none), comparing every one as {@link tokenMatches} does. */
export function tokenIndex(tokens: readonly SecretSource[], given: string | undefined, log?: Logger): number {
  if (!given) return -1;
  let found = -1;
  tokens.forEach((source, i) => {
    try {
      if (safeEqual(readSecret(source, "token"), given) && found < 0) found = i;
    } catch (error) {
      log?.error((error as Error).message);
    }
  });
  return found;
}

/** Who a bearer token stands for in the audit log until tokens carry identities: the token's position. */
export function tokenActor(
  tokens: readonly SecretSource[],
  given: string | undefined,
  log?: Logger,
): Pick<Identity, "id" | "name"> | undefined {
  const i = tokenIndex(tokens, given, log);
  return i < 0 ? undefined : { id: `token:${i + 1}`, name: `token-${i + 1}` };
}

/**
 * Routes a request: 405 for a known path with another method, 401 without a
 * valid token. Every reply of a route that is not `none` is masked here, the
 * one place they pass: JSON bodies, text, and each chunk of a stream. Streams
 * are bounded by `streams` (503 beyond its limits). Each routed request gets
 * an id (the proxy's `x-request-id`, else a new one), echoed in the reply, and
 * the attempts the audit log keeps are appended to it here (see `audit.ts`).
 */
export function router(
  routes: readonly Route[],
  auth: {
    readonly tokens: readonly SecretSource[];
    readonly publicReads: boolean;
    readonly log?: Logger;
    /** A masker of the secrets known now, for what authenticated routes answer (they may echo a target's config or a program's output). */
    readonly redactor: () => Redactor;
    /** Counts and ends event streams. */
    readonly streams: StreamGate;
    /** Records attempts in the audit log. @default - nothing recorded */
    readonly audit?: AuditHook;
  },
): (req: IncomingMessage, path: string, query: URLSearchParams) => Promise<Reply | undefined> {
  return async (req, path, query) => {
    const matching = routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) return undefined;
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      const allow = matching.map((r) => r.method).join(", ");
      return json(405, { error: `${req.method} is not allowed here` }, { allow });
    }
    let params: string[];
    try {
      params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
    } catch {
      return fail(400, "the path is not valid URL encoding");
    }
    // Names and ids are far shorter; a longer one is not echoed (nor masked, nor rendered).
    const longest = route.maxParam ?? MAX_ECHOED;
    if (params.some((p) => p.length > longest)) {
      return fail(404, `not found: a name or id in the path is longer than ${longest} characters`);
    }
    const requestId = requestIdOf(req);
    const identity = route.auth === "none" ? undefined : tokenActor(auth.tokens, bearerToken(req), auth.log);
    const audited = (reply: Reply): Reply => {
      auth.audit?.record({
        req,
        path,
        params,
        action: typeof route.audit === "function" ? route.audit(params) : route.audit,
        identity: reply.actor ?? identity,
        requestId,
        status: reply.status,
        body: reply.body,
      });
      return { ...reply, headers: { ...reply.headers, [REQUEST_ID_HEADER]: requestId } };
    };
    if (route.auth === "control" || (route.auth === "read" && !auth.publicReads)) {
      if (auth.tokens.length === 0) return audited(fail(401, "no API token is configured"));
      if (!identity) {
        return audited(
          json(
            401,
            { error: "a valid bearer token is required" },
            { "www-authenticate": 'Bearer realm="driftless"' },
          ),
        );
      }
    }
    let reply: Reply;
    try {
      reply = await route.handle({ req, params, query });
    } catch (error) {
      const refused = route.auth === "control" ? errorReply(error) : undefined;
      if (!refused) {
        audited(fail(500, "internal error"));
        throw error;
      }
      reply = refused;
    }
    reply = audited(reply);
    const redactor = route.auth === "none" ? undefined : auth.redactor();
    const { stream } = reply;
    if (stream) {
      return {
        ...reply,
        stream: (res) => {
          const refused = auth.streams.admit(req, res);
          if (refused) return send(res, json(503, { error: refused }, { "retry-after": "10" }));
          guardWrites(res, redactor && ((text) => redactor.redact(text)));
          stream(res);
        },
      };
    }
    if (!redactor) return reply;
    return {
      ...reply,
      ...(reply.body !== undefined ? { body: redactJson(reply.body, redactor) } : {}),
      ...(reply.text !== undefined ? { text: redactor.redact(reply.text) } : {}),
    };
  };
}

/** Writes a reply (or ends a response a framework already started). */
export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (reply.stream) {
    reply.stream(res);
    return;
  }
  const text = reply.text ?? `${JSON.stringify(reply.body ?? {})}\n`;
  res.writeHead(reply.status, {
    "content-type": reply.contentType ?? "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}
