/**
 * A small router for the HTTP API: routes as data (method, path pattern, the
 * action they need), the one place identities are resolved and the policy is
 * checked, typed errors mapped to status codes, and replies written as JSON.
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
import type { Redactor } from "../spec/secrets.js";
import type { AuditStore } from "../store/store.js";
import { type AuditHook, REQUEST_ID_HEADER, requestIdOf } from "./audit.js";
import type { Action, Identity } from "./auth/identity.js";
import type { Policy } from "./auth/policy.js";
import { CONSUMED_BODY_MESSAGE, readBody } from "./body.js";
import type { ReconcilerMetrics } from "./metrics.js";
import type { PullRequestPreviews } from "./pulls.js";
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
  /**
   * What the audit log records as the entry's detail, for replies without a
   * JSON `error` (dashboard pages): why it was refused, or what was made.
   * Never a secret (it is masked all the same).
   * @default - the body's `error`, or `run <id>`
   */
  readonly detail?: string;
}

/** One request as a route sees it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** Who asks; `undefined` on public routes and for anonymous reads (`publicReads`). */
  readonly identity?: Identity;
  /** Whether the caller may take an action on a target (or on some target): lists show only what it may read, pages offer only what it may do. */
  readonly may: (action: Action, target?: string) => boolean;
}

/** Why the router refused a request: 401 without an identity, 403 without the permission. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly message: string;
}

/**
 * One route: `auth` is the action the caller needs (`none`: anyone, for
 * probes, signed webhooks and the dashboard's login), on `target` when the
 * route acts on one. `read` routes are open to anyone with `publicReads`.
 */
export interface Route {
  readonly method: "GET" | "POST";
  readonly pattern: RegExp;
  readonly auth: "none" | Action;
  /** The target the action is on. @default - none: the action on any target (lists filter what they show) */
  readonly target?: (
    ctx: Omit<RequestContext, "identity" | "may">,
  ) => string | undefined | Promise<string | undefined>;
  /** Whether a dashboard session identifies the caller (the dashboard's routes); the JSON API takes bearer tokens only, so a cookie cannot be ridden. @default false */
  readonly session?: boolean;
  /** How this route refuses (the dashboard answers with pages). @default - JSON `{ error }` */
  readonly refuse?: (ctx: Omit<RequestContext, "may">, refusal: Refusal) => Reply | Promise<Reply>;
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

/** The target of `/targets/:name…` and `/ui/targets/:name…` routes: the first path parameter. */
export const namedTarget = ({ params }: { readonly params: readonly string[] }): string | undefined =>
  params[0];

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

/** How the router knows who asks and what they may do. */
export interface RouterAuth {
  /** The identity of the request's bearer token (named or personal); the handler resolves it once per request. */
  readonly bearer: (req: IncomingMessage) => Promise<Identity | undefined>;
  /** The identity of a dashboard session, on routes with `session` (read once per request, too). */
  readonly session?: (req: IncomingMessage) => Promise<Identity | undefined>;
  readonly policy: Policy;
  /** Whether any way to authenticate is configured; without, protected routes say so. */
  readonly configured: boolean;
  readonly publicReads: boolean;
  readonly log?: Logger;
  /** A masker of the secrets known now, for what authenticated routes answer (they may echo a target's config or a program's output). */
  readonly redactor: () => Redactor;
  /** Counts and ends event streams. */
  readonly streams: StreamGate;
  /** Records attempts in the audit log. @default - nothing recorded */
  readonly audit?: AuditHook;
}

/**
 * Routes a request: 405 for a known path with another method; then the one
 * check of who asks — 401 without an identity, 403 naming the permission the
 * identity lacks for the route's action on its target. Every reply of a route
 * that is not `none` is masked here, the one place they pass: JSON bodies,
 * text, and each chunk of a stream. Streams are bounded by `streams` (503
 * beyond its limits). Each routed request gets an id (the proxy's
 * `x-request-id`, else a new one), echoed in the reply, and the attempts the
 * audit log keeps are appended to it here (see `audit.ts`).
 */
export function router(
  routes: readonly Route[],
  auth: RouterAuth,
): (req: IncomingMessage, path: string, query: URLSearchParams) => Promise<Reply | undefined> {
  const { policy } = auth;
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
    const bare = { req, params, query };
    const given = bearerToken(req);
    const identity = given
      ? await auth.bearer(req)
      : route.session && auth.session
        ? await auth.session(req)
        : undefined;
    // With publicReads everyone reads everything, signed in or not.
    const may = (action: Action, target?: string) =>
      (auth.publicReads && action === "read") || policy.allows(identity, action, target);
    // The entry is stored before the reply goes out, so a caller never sees an
    // answer the log lacks; a failed append is logged, never the request's failure.
    const audited = async (reply: Reply): Promise<Reply> => {
      await auth.audit?.record({
        req,
        path,
        params,
        action: typeof route.audit === "function" ? route.audit(params) : route.audit,
        identity: reply.actor ?? identity,
        requestId,
        status: reply.status,
        body: reply.body,
        ...(reply.detail !== undefined ? { detail: reply.detail } : {}),
      });
      return { ...reply, headers: { ...reply.headers, [REQUEST_ID_HEADER]: requestId } };
    };
    if (route.auth !== "none") {
      const target = await route.target?.(bare);
      let refusal: Refusal | undefined;
      if (route.auth === "read" && auth.publicReads) refusal = undefined;
      else if (!identity) {
        refusal = !auth.configured
          ? { status: 401, message: "no API token is configured" }
          : {
              status: 401,
              message: given ? "that bearer token is not valid" : "a valid bearer token is required",
            };
      } else {
        const why = policy.refusal(identity, route.auth, target);
        if (why) refusal = { status: 403, message: why };
      }
      if (refusal) {
        auth.log?.info(
          { identity: identity?.id, action: route.auth, target, status: refusal.status },
          "refused",
        );
        if (route.refuse) {
          const page = await route.refuse({ ...bare, ...(identity ? { identity } : {}) }, refusal);
          return await audited({ detail: refusal.message, ...page });
        }
        return await audited(
          json(
            refusal.status,
            { error: refusal.message },
            refusal.status === 401 ? { "www-authenticate": 'Bearer realm="driftless"' } : undefined,
          ),
        );
      }
    }
    let reply: Reply;
    try {
      reply = await route.handle({ ...bare, ...(identity ? { identity } : {}), may });
    } catch (error) {
      const refused = route.auth !== "none" && route.auth !== "read" ? errorReply(error) : undefined;
      if (!refused) {
        await audited(fail(500, "internal error"));
        throw error;
      }
      reply = refused;
    }
    reply = await audited(reply);
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
