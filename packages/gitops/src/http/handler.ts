/**
 * `createHandler`: the HTTP API as one Node request handler, composed from
 * the route modules under `routes/` (probes, webhooks, reads, logs, control) and
 * the router that checks tokens and maps typed errors to status codes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { Reconciler } from "../reconciler.js";
import { checkOidcOptions, type OidcOptions } from "../spec/oidc.js";
import { readSecret } from "../spec/secrets.js";
import type { AuditStore, PersonalTokenStore } from "../store/store.js";
import { AuditHook } from "./audit.js";
import { Policy, type PolicyOptions } from "./auth/policy.js";
import { isAnonymous, namedTokens, type TokenOption, tokenIdentity, tokenResolver } from "./auth/tokens.js";
import { ReconcilerMetrics } from "./metrics.js";
import { rememberMount } from "./mount.js";
import { perRequest } from "./perRequest.js";
import type { PullRequestPreviews } from "./pulls.js";
import { type Api, bearerToken, errorReply, fail, type Route, router, send } from "./router.js";
import { auditRoutes } from "./routes/audit.js";
import { controlRoutes } from "./routes/control.js";
import { hookRoutes } from "./routes/hooks.js";
import { logRoutes } from "./routes/logs.js";
import { probeRoutes } from "./routes/probes.js";
import { readRoutes } from "./routes/reads.js";
import type { WebhookSecrets } from "./routes/webhooks.js";
import { StreamGate, type StreamLimits } from "./streams.js";
import type { DashboardSessionOptions } from "./ui/account/session.js";
import { htmlRedactor } from "./ui/html.js";
import { uiRoutes } from "./ui/routes.js";
import { redactorFor, secretValues } from "./views.js";

export type { WebhookSecrets } from "./routes/webhooks.js";

/** Options for {@link createHandler}. Secrets are read per request, so rotated values take effect at once. */
export interface HandlerOptions {
  /**
   * API tokens: named ones (`{ name, secret, roles }`), each an identity with
   * roles, or (the old form) bare secrets, each an `admin` named `token-1`,
   * `token-2`, … by position (a warning is logged). Without any (and without
   * personal tokens), the protected routes answer 401.
   * @default []
   */
  readonly tokens?: readonly TokenOption[];
  /**
   * Who may do what: roles (actions on target globs), bindings of roles to
   * users, groups and tokens, the default role of signed-in users.
   * @default {} - only the built-in roles `admin` and `reader`
   */
  readonly policy?: PolicyOptions;
  /**
   * Where personal tokens are kept (signed-in users create them in the
   * dashboard); `driftless serve` passes its store.
   * @default - no personal tokens
   */
  readonly personalTokens?: PersonalTokenStore;
  /** Webhook secrets. @default {} - no webhook routes */
  readonly webhooks?: WebhookSecrets;
  /** Serve the read routes (`GET /targets…`, `GET /runs/:id`, `GET /runs/:id/log`) without a token. @default false */
  readonly publicReads?: boolean;
  /** Largest request body accepted; larger ones get 413. @default 1048576 (1 MiB) */
  readonly maxBodyBytes?: number;
  /** How many webhook delivery ids are remembered to drop repeats. @default 1000 */
  readonly deliveryCacheSize?: number;
  /**
   * Path prefix the handler is mounted under (for plain `node:http`); it is
   * stripped before routing and requests outside it fall through.
   * Frameworks that strip the mount path themselves (express `app.use`,
   * connect) need none: the path they stripped (`req.baseUrl`,
   * `req.originalUrl`) is put back in front of the dashboard's links,
   * redirects and cookie path, and of `Location` headers.
   * @default ""
   */
  readonly prefix?: string;
  /** Metrics to update and expose at `/metrics`. @default - a new {@link ReconcilerMetrics} with its own registry */
  readonly metrics?: ReconcilerMetrics;
  /** Where webhook decisions and server errors are logged. @default - nowhere */
  readonly logger?: Logger;
  /**
   * Previews the pull requests that GitHub or Gitea report to `/hooks/github`
   * (`pull_request` events). @default - pull request events are acknowledged and ignored
   */
  readonly pullRequests?: PullRequestPreviews;
  /**
   * How the dashboard signs and ends its sessions (signed cookies, held by no server).
   * @default - signed with keys derived from `tokens`, 8 hours, logouts remembered in this process's memory
   */
  readonly sessions?: DashboardSessionOptions;
  /**
   * Bounds on event streams (`GET /ui/events`, `GET /runs/:id/log?follow=1`):
   * in total, per client address, and a lifetime after which the client reconnects.
   * @default { max: 500, perClient: 20, maxLifetimeMs: 600000 }
   */
  readonly streams?: StreamLimits;
  /**
   * The audit log: commands, dashboard actions, logins (the token form and
   * single sign-on's callback, refused ones too), logouts, personal tokens
   * created and revoked, and every refusal are appended to it; `GET /audit`
   * and the dashboard's audit page read it.
   * @default - nothing is recorded, and `GET /audit` answers 404
   */
  readonly audit?: AuditStore;
  /**
   * Single sign-on for the dashboard through an OpenID Connect provider
   * (authorization code flow with PKCE). Its login page then offers
   * "Sign in with …", and keeps the token form when `tokens` are configured.
   * @default - no single sign-on
   */
  readonly oidc?: OidcOptions;
}

/**
 * A Node `(req, res, next?)` request handler serving the driftless API.
 * With `next` (express, connect), unknown paths are passed on; without, they get 404.
 */
export interface DriftlessHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The metrics served at `/metrics`. */
  readonly metrics: ReconcilerMetrics;
  /** Makes `/readyz` answer 503 so load balancers stop sending traffic (shutdown has begun). */
  drain(): void;
  /** Stops following reconciler events and ends the dashboard's event streams. */
  close(): void;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

/**
 * Creates the HTTP handler for a reconciler: signed webhooks, the control and
 * read API, health probes and Prometheus metrics. Framework-agnostic: mount it
 * in `node:http`, express, fastify (`reply.hijack()` then `handler(req.raw, reply.raw)`)
 * or hono's node adapter.
 *
 * @example
 * ```ts
 * const handler = createHandler(reconciler, {
 *   tokens: [{ name: "ops", secret: { env: "DRIFTLESS_TOKEN" }, roles: ["admin"] }],
 *   prefix: "/driftless",
 * });
 * http.createServer((req, res) => handler(req, res, () => myRoutes(req, res))).listen(8080);
 * ```
 */
export function createHandler(reconciler: Reconciler, options: HandlerOptions = {}): DriftlessHandler {
  const tokens = options.tokens ?? [];
  const oidc = options.oidc === undefined ? undefined : checkOidcOptions(options.oidc);
  const named = namedTokens(tokens);
  const anonymous = named.filter((_, i) => isAnonymous(tokens[i] as TokenOption)).map((t) => t.name);
  if (anonymous.length > 0) {
    options.logger?.warn(
      `tokens without a name act as admin (${anonymous.join(", ")}): give each a name and roles ({ name, env, roles })`,
    );
  }
  const policy = new Policy(
    options.policy,
    named.map((t) => t.name),
  );
  const resolve = tokenResolver(tokens, {
    ...(options.logger ? { log: options.logger } : {}),
    ...(options.personalTokens ? { personal: options.personalTokens } : {}),
  });
  // The router, the page and its forms ask who a bearer token is: one look-up per request.
  const bearer = perRequest(async (req) => {
    const given = bearerToken(req);
    return given ? resolve(given) : undefined;
  });
  const webhooks = options.webhooks ?? {};
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const prefix = (options.prefix ?? "").replace(/\/+$/, "");
  const log = options.logger;
  const ownMetrics = options.metrics === undefined;
  const metrics = options.metrics ?? new ReconcilerMetrics(reconciler);
  const deliveries = new LRUCache<string, true>({ max: Math.max(1, options.deliveryCacheSize ?? 1000) });
  let draining = false;
  const api: Api = {
    reconciler,
    metrics,
    maxBody,
    prefix,
    log,
    draining: () => draining,
    ...(options.pullRequests ? { pullRequests: options.pullRequests } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
  };
  // Every secret the service knows, not only the targets': a program may print any it can reach.
  const secrets = [
    ...named.map((t) => t.secret),
    ...Object.values(webhooks),
    ...reconciler.secrets,
    ...(options.sessions?.secret ? [options.sessions.secret] : []),
    ...(oidc ? [oidc.clientSecret] : []),
  ];
  const streams = new StreamGate(options.streams);
  const configured = new Map(
    named.map((t) => [
      `token:${t.name}`,
      { identity: tokenIdentity(t), secret: () => readSecret(t.secret, `token ${t.name}`) },
    ]),
  );
  const ui = uiRoutes(api, {
    tokens: named.map((t) => t.secret),
    configuredToken: (id) => configured.get(id),
    resolve,
    bearer,
    ...(options.personalTokens ? { personalTokens: options.personalTokens } : {}),
    publicReads: options.publicReads ?? false,
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(oidc ? { oidc } : {}),
    redact: () => htmlRedactor(secretValues(reconciler.targets(), secrets)),
  });
  const routes: Route[] = [
    ...ui.routes,
    ...probeRoutes(api),
    ...hookRoutes(api, { secrets: webhooks, deliveries }),
    ...readRoutes(api),
    ...logRoutes(api),
    ...controlRoutes(api),
    ...auditRoutes(api),
  ];
  const redactor = () => redactorFor(reconciler.targets(), secrets);
  const respond = router(routes, {
    bearer,
    session: ui.identify,
    policy,
    configured: tokens.length > 0 || options.personalTokens !== undefined,
    publicReads: options.publicReads ?? false,
    redactor,
    streams,
    ...(options.audit ? { audit: new AuditHook(options.audit, redactor, log) } : {}),
    ...(log ? { log } : {}),
  });

  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const url = new URL(req.url ?? "/", "http://driftless.invalid");
    let path = url.pathname;
    if (prefix) {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) {
        if (next) next();
        else send(res, fail(404, "not found"));
        return;
      }
      path = path.slice(prefix.length) || "/";
    }
    rememberMount(req, prefix);
    respond(req, path.replace(/\/+$/, "") || "/", url.searchParams).then(
      (reply) => {
        if (reply) send(res, reply);
        else if (next) next();
        else send(res, fail(404, "not found"));
      },
      (error: unknown) => {
        log?.error({ err: error, path }, "request failed");
        send(res, errorReply(error) ?? fail(500, "internal error"));
      },
    );
  };

  return Object.assign(handler, {
    metrics,
    drain: () => {
      draining = true;
    },
    close: () => {
      ui.close();
      if (ownMetrics) metrics.close();
    },
  });
}
