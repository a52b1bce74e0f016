import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { DriftlessError, SpecError } from "../errors.js";
import type { PromotionRequest, Reconciler } from "../reconciler.js";
import { readSecret } from "../secrets.js";
import type { SecretSource } from "../spec.js";
import { CONSUMED_BODY_MESSAGE, readBody } from "./body.js";
import { BoundedSet } from "./lru.js";
import { ReconcilerMetrics } from "./metrics.js";
import { genericPush, githubPush, gitlabPush, matchTargets, type PushEvent } from "./push.js";
import { safeEqual, verifyGenericSignature, verifyGithubSignature } from "./signatures.js";
import { publicTarget, redactJson, redactorFor } from "./views.js";

/** Webhook secrets by provider; a provider without a secret has no webhook route (404). */
export interface WebhookSecrets {
  /** HMAC secret of GitHub's `X-Hub-Signature-256`. */
  readonly github?: SecretSource;
  /** Token GitLab sends in `X-Gitlab-Token`. */
  readonly gitlab?: SecretSource;
  /** HMAC secret of the generic webhook's `X-Signature: sha256=…`. */
  readonly generic?: SecretSource;
}

/** Options for {@link createHandler}. Secrets are read per request, so rotated values take effect at once. */
export interface HandlerOptions {
  /**
   * Bearer tokens accepted by the control and read API (several allow rotation).
   * Without any, those routes answer 401.
   * @default []
   */
  readonly tokens?: readonly SecretSource[];
  /** Webhook secrets. @default {} - no webhook routes */
  readonly webhooks?: WebhookSecrets;
  /** Serve the read routes (`GET /targets…`, `GET /runs/:id`) without a token. @default false */
  readonly publicReads?: boolean;
  /** Largest request body accepted; larger ones get 413. @default 1048576 (1 MiB) */
  readonly maxBodyBytes?: number;
  /** How many webhook delivery ids are remembered to drop repeats. @default 1000 */
  readonly deliveryCacheSize?: number;
  /**
   * Path prefix the handler is mounted under (for plain `node:http`); it is
   * stripped before routing and requests outside it fall through.
   * Frameworks that strip the mount path themselves (express `app.use`) need none.
   * @default ""
   */
  readonly prefix?: string;
  /** Metrics to update and expose at `/metrics`. @default - a new {@link ReconcilerMetrics} with its own registry */
  readonly metrics?: ReconcilerMetrics;
  /** Where webhook decisions and server errors are logged. @default - nowhere */
  readonly logger?: Logger;
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
  /** Stops following reconciler events. */
  close(): void;
}

type Json = Record<string, unknown>;

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Route {
  readonly method: "GET" | "POST";
  readonly pattern: RegExp;
  readonly auth: "none" | "read" | "control";
  readonly handle: (ctx: RequestContext) => Reply | Promise<Reply>;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});
const fail = (status: number, message: string): Reply => json(status, { error: message });

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Creates the HTTP handler for a reconciler: signed webhooks, the control and
 * read API, health probes and Prometheus metrics. Framework-agnostic: mount it
 * in `node:http`, express, fastify (`reply.hijack()` then `handler(req.raw, reply.raw)`)
 * or hono's node adapter.
 *
 * @example
 * ```ts
 * const handler = createHandler(reconciler, { tokens: [{ env: "DRIFTLESS_TOKEN" }], prefix: "/driftless" });
 * http.createServer((req, res) => handler(req, res, () => myRoutes(req, res))).listen(8080);
 * ```
 */
export function createHandler(reconciler: Reconciler, options: HandlerOptions = {}): DriftlessHandler {
  const tokens = options.tokens ?? [];
  const webhooks = options.webhooks ?? {};
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const prefix = (options.prefix ?? "").replace(/\/+$/, "");
  const log = options.logger;
  const ownMetrics = options.metrics === undefined;
  const metrics = options.metrics ?? new ReconcilerMetrics(reconciler);
  const deliveries = new BoundedSet(options.deliveryCacheSize ?? 1000);
  let draining = false;

  const known = (name: string): Reply | undefined =>
    reconciler.target(name) ? undefined : fail(404, `unknown target "${name}"`);

  const redacted = (body: unknown): unknown =>
    redactJson(body, redactorFor(reconciler.targets(), [...tokens, ...Object.values(webhooks)]));

  const view = (name: string) => {
    const target = reconciler.target(name);
    return target ? { ...publicTarget(target), status: reconciler.status(name) } : undefined;
  };

  /** Reads the body of a webhook and checks its signature; a Reply means stop here. */
  const webhookBody = async (
    ctx: RequestContext,
    provider: keyof WebhookSecrets,
    check: (secret: string, body: string) => boolean | Promise<boolean>,
  ): Promise<{ readonly payload: unknown } | Reply> => {
    const source = webhooks[provider];
    if (!source) return fail(404, `the ${provider} webhook is not configured`);
    const body = await readBody(ctx.req, maxBody);
    if (body === "too-large") {
      metrics.webhook(provider, "invalid");
      return fail(413, `the body is larger than ${maxBody} bytes`);
    }
    if (body === "aborted") return fail(400, "the request was aborted");
    if (body === "consumed") return fail(400, CONSUMED_BODY_MESSAGE);
    let secret: string;
    try {
      secret = readSecret(source, `webhooks.${provider}`);
    } catch (error) {
      log?.error({ provider }, (error as Error).message);
      return fail(503, `the ${provider} webhook secret is not available`);
    }
    if (!(await check(secret, body))) {
      metrics.webhook(provider, "unauthorized");
      log?.warn({ provider }, "webhook with a missing or wrong signature refused");
      return fail(401, "missing or invalid signature");
    }
    try {
      return { payload: JSON.parse(body) as unknown };
    } catch {
      metrics.webhook(provider, "invalid");
      return fail(400, "the body is not valid JSON");
    }
  };

  /** Triggers the targets a push concerns, once per delivery id. */
  const onPush = (provider: string, delivery: string | undefined, push: PushEvent | string): Reply => {
    if (typeof push === "string") {
      metrics.webhook(provider, "invalid");
      return fail(400, push);
    }
    if (delivery && !deliveries.add(`${provider}:${delivery}`)) {
      metrics.webhook(provider, "duplicate");
      return json(200, { duplicate: true, delivery, triggered: [] });
    }
    const triggered: { target: string; runId: string }[] = [];
    const skipped: { target: string; reason: string }[] = [];
    for (const target of matchTargets(reconciler.targets(), push)) {
      if (isSuspended(reconciler, target.name)) {
        skipped.push({ target: target.name, reason: "suspended" });
        continue;
      }
      try {
        const run = reconciler.request(target.name, { trigger: "webhook", force: false });
        triggered.push({ target: target.name, runId: run.id });
      } catch (error) {
        skipped.push({ target: target.name, reason: (error as Error).message });
      }
    }
    metrics.webhook(provider, triggered.length > 0 ? "triggered" : "ignored");
    log?.info(
      { provider, delivery, ref: push.ref, triggered: triggered.map((t) => t.target) },
      "push received",
    );
    return json(202, { event: "push", ...(delivery ? { delivery } : {}), triggered, skipped });
  };

  const ignored = (provider: string, event: string | undefined): Reply => {
    metrics.webhook(provider, "ignored");
    return json(202, { ignored: true, event: event ?? null });
  };

  const control = (name: string, act: () => Reply): Reply => known(name) ?? act();

  /** `GET /targets/:name/<list>?limit=20`: a known target's newest entries (limit 1–1000). */
  const listing =
    (list: (name: string, limit: number) => Json) =>
    ({ params: [name = ""], query }: RequestContext): Reply => {
      const missing = known(name);
      if (missing) return missing;
      const raw = query.get("limit");
      const limit = raw === null ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return fail(400, `limit must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
      }
      return json(200, list(name, limit));
    };

  /** `POST /targets/:name/promote|rollback` with `{ "by", "reason", "revision"? }`. */
  const move =
    (action: "promote" | "rollback") =>
    async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> => {
      const missing = known(name);
      if (missing) return missing;
      const body = await readBody(req, maxBody);
      if (body === "too-large") return fail(413, `the body is larger than ${maxBody} bytes`);
      if (body === "consumed") return fail(400, CONSUMED_BODY_MESSAGE);
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof body === "string" && body.trim() !== "" ? body : "{}");
      } catch {
        return fail(400, "the body is not valid JSON");
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return fail(
          400,
          `the body must be a JSON object with "by" and "reason", got ${JSON.stringify(parsed)}`,
        );
      }
      try {
        const run = reconciler[action](name, parsed as PromotionRequest);
        return json(
          202,
          { target: name, runId: run.id, promotion: reconciler.promotions(name, 1)[0] },
          { location: `${prefix}/runs/${run.id}` },
        );
      } catch (error) {
        if (error instanceof SpecError) return fail(400, error.message);
        if (error instanceof DriftlessError) return fail(409, error.message);
        throw error;
      }
    };

  const routes: Route[] = [
    { method: "GET", pattern: /^\/healthz$/, auth: "none", handle: () => json(200, { status: "ok" }) },
    {
      method: "GET",
      pattern: /^\/readyz$/,
      auth: "none",
      handle: () => {
        const ready = reconciler.ready && !draining;
        return json(ready ? 200 : 503, {
          ready,
          ...(ready
            ? {}
            : { reason: draining ? "shutting down" : "the scheduler is not running or the store is closed" }),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/metrics$/,
      auth: "none",
      handle: async () => ({
        status: 200,
        text: await metrics.registry.metrics(),
        contentType: metrics.registry.contentType,
      }),
    },
    {
      method: "POST",
      pattern: /^\/hooks\/github$/,
      auth: "none",
      handle: async (ctx) => {
        const signature = header(ctx.req, "x-hub-signature-256");
        const read = await webhookBody(ctx, "github", (secret, body) =>
          verifyGithubSignature(secret, body, signature),
        );
        if ("status" in read) return read;
        const event = header(ctx.req, "x-github-event");
        if (event === "ping") {
          metrics.webhook("github", "ignored");
          return json(200, { pong: true });
        }
        if (event !== "push") return ignored("github", event);
        return onPush("github", header(ctx.req, "x-github-delivery"), githubPush(read.payload));
      },
    },
    {
      method: "POST",
      pattern: /^\/hooks\/gitlab$/,
      auth: "none",
      handle: async (ctx) => {
        const token = header(ctx.req, "x-gitlab-token");
        const read = await webhookBody(ctx, "gitlab", (secret) => safeEqual(secret, token));
        if ("status" in read) return read;
        const event = header(ctx.req, "x-gitlab-event");
        if (event !== "Push Hook" && event !== "Tag Push Hook") return ignored("gitlab", event);
        return onPush("gitlab", header(ctx.req, "x-gitlab-event-uuid"), gitlabPush(read.payload));
      },
    },
    {
      method: "POST",
      pattern: /^\/hooks\/generic$/,
      auth: "none",
      handle: async (ctx) => {
        const signature = header(ctx.req, "x-signature");
        const read = await webhookBody(ctx, "generic", (secret, body) =>
          verifyGenericSignature(secret, body, signature),
        );
        if ("status" in read) return read;
        return onPush("generic", header(ctx.req, "x-delivery-id"), genericPush(read.payload));
      },
    },
    {
      method: "GET",
      pattern: /^\/targets$/,
      auth: "read",
      handle: () => json(200, { targets: reconciler.targets().map((t) => view(t.name)) }),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)$/,
      auth: "read",
      handle: ({ params: [name = ""] }) => known(name) ?? json(200, view(name)),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/runs$/,
      auth: "read",
      handle: listing((name, limit) => ({ runs: reconciler.history(name, limit) })),
    },
    {
      method: "GET",
      pattern: /^\/runs\/([^/]+)$/,
      auth: "read",
      handle: ({ params: [id = ""] }) => {
        const run = reconciler.run(id);
        return run ? json(200, run) : fail(404, `unknown run "${id}"`);
      },
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/reconcile$/,
      auth: "control",
      handle: ({ params: [name = ""] }) =>
        control(name, () => {
          const run = reconciler.request(name, { trigger: "manual" });
          return json(202, { target: name, runId: run.id }, { location: `${prefix}/runs/${run.id}` });
        }),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/approve$/,
      auth: "control",
      handle: async ({ req, params: [name = ""] }) => {
        const missing = known(name);
        if (missing) return missing;
        const body = await readBody(req, maxBody);
        if (body === "too-large") return fail(413, `the body is larger than ${maxBody} bytes`);
        if (body === "consumed") return fail(400, CONSUMED_BODY_MESSAGE);
        let revision: string | undefined;
        if (typeof body === "string" && body.trim() !== "") {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            return fail(400, "the body is not valid JSON");
          }
          const given = (parsed as Json | null)?.revision;
          if (given !== undefined && (typeof given !== "string" || !/^[0-9a-f]{7,64}$/i.test(given))) {
            return fail(400, `revision must be a commit SHA, got ${JSON.stringify(given)}`);
          }
          revision = given;
        }
        try {
          const run = reconciler.approve(name, revision);
          return json(202, { target: name, runId: run.id }, { location: `${prefix}/runs/${run.id}` });
        } catch (error) {
          if (error instanceof DriftlessError && /no revision waiting/.test(error.message)) {
            return fail(409, error.message);
          }
          throw error;
        }
      },
    },
    { method: "POST", pattern: /^\/targets\/([^/]+)\/promote$/, auth: "control", handle: move("promote") },
    { method: "POST", pattern: /^\/targets\/([^/]+)\/rollback$/, auth: "control", handle: move("rollback") },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/promotions$/,
      auth: "read",
      handle: listing((name, limit) => ({ promotions: reconciler.promotions(name, limit) })),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/suspend$/,
      auth: "control",
      handle: ({ params: [name = ""] }) => control(name, () => json(200, reconciler.suspend(name))),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/resume$/,
      auth: "control",
      handle: ({ params: [name = ""] }) => control(name, () => json(200, reconciler.resume(name))),
    },
  ];

  const authorized = (req: IncomingMessage): boolean => {
    const given = /^Bearer\s+(.+)$/i.exec(header(req, "authorization") ?? "")?.[1]?.trim();
    if (!given) return false;
    let ok = false;
    // Every token is compared, so the time taken does not say which one matched.
    for (const source of tokens) {
      try {
        ok = safeEqual(readSecret(source, "token"), given) || ok;
      } catch (error) {
        log?.error((error as Error).message);
      }
    }
    return ok;
  };

  const respond = async (
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
  ): Promise<Reply | undefined> => {
    const matching = routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) return undefined;
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      return json(
        405,
        { error: `${req.method} is not allowed here` },
        { allow: matching.map((r) => r.method).join(", ") },
      );
    }
    let params: string[];
    try {
      params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
    } catch {
      return fail(400, "the path is not valid URL encoding");
    }
    if (route.auth === "control" || (route.auth === "read" && !options.publicReads)) {
      if (tokens.length === 0) return fail(401, "no API token is configured");
      if (!authorized(req)) {
        return json(
          401,
          { error: "a valid bearer token is required" },
          { "www-authenticate": 'Bearer realm="driftless"' },
        );
      }
    }
    const reply = await route.handle({ req, params, query });
    return route.auth === "none" ? reply : { ...reply, body: redacted(reply.body) };
  };

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
    respond(req, path.replace(/\/+$/, "") || "/", url.searchParams).then(
      (reply) => {
        if (reply) send(res, reply);
        else if (next) next();
        else send(res, fail(404, "not found"));
      },
      (error: unknown) => {
        log?.error({ err: error, path }, "request failed");
        const stopped = error instanceof DriftlessError && /reconciler is stopped/.test(error.message);
        send(res, stopped ? fail(503, "the reconciler is shutting down") : fail(500, "internal error"));
      },
    );
  };

  return Object.assign(handler, {
    metrics,
    drain: () => {
      draining = true;
    },
    close: () => {
      if (ownMetrics) metrics.close();
    },
  });
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) {
    res.end();
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

/** Mirrors the reconciler's rule: a Suspended condition wins over the spec's `suspend`. */
function isSuspended(reconciler: Reconciler, name: string): boolean {
  const condition = reconciler.status(name).conditions.find((c) => c.type === "Suspended");
  return condition ? condition.status : (reconciler.target(name)?.suspend ?? false);
}
