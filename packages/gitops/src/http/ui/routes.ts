/**
 * The dashboard's routes under `/ui`: pages, their live event stream, the
 * login and logout forms (a token, or single sign-on in ./signIn.ts), the
 * actions (./actions.ts), the audit log and personal tokens. Pages are read with a session, a
 * bearer token, or by anyone with `publicReads`; actions need a signed-in
 * session with the permission (the router checks it, as for the API) and its
 * CSRF token.
 */
import type { IncomingMessage } from "node:http";
import type { OidcOptions } from "../../spec/oidc.js";
import type { SecretSource } from "../../spec/spec.js";
import type { PersonalTokenStore } from "../../store/store.js";
import type { Identity, TokenResolver } from "../auth/identity.js";
import { OidcProvider } from "../auth/oidc/provider.js";
import { readBody } from "../body.js";
import { mountOf } from "../mount.js";
import {
  type Api,
  MAX_ECHOED,
  MAX_URN,
  namedTarget,
  type Refusal,
  type Reply,
  type RequestContext,
  type Route,
} from "../router.js";
import { auditQuery } from "../routes/audit.js";
import { runTarget } from "../routes/reads.js";
import { type ConfiguredToken, requestSessions } from "./account/requestSession.js";
import {
  csrfValid,
  type DashboardSessionOptions,
  type Session,
  Sessions,
  type SignInEvent,
  sessionCookie,
  sessionKeys,
} from "./account/session.js";
import { meRoute, originOf, signInRoutes } from "./account/signIn.js";
import { personalTokenRoutes } from "./account/tokens.js";
import { actionRoutes } from "./actions.js";
import { asset, SECURITY_HEADERS } from "./assets.js";
import type { UiDeps } from "./deps.js";
import { loginPage, messagePage } from "./forms.js";
import { type Html, html } from "./html.js";
import type { ViewContext } from "./layout.js";
import { LiveHub } from "./live.js";
import { overviewPage, rowHtml } from "./overview.js";
import { auditPage } from "./pages/audit.js";
import { resourceHistoryPage } from "./pages/resourceHistory.js";
import { RowSource } from "./rows.js";
import { runPage } from "./run.js";
import { targetPage } from "./target.js";

/** What the dashboard needs from the handler. */
export interface UiOptions {
  /** The API tokens' secrets, from which session keys are derived when `sessions.secret` is unset. */
  readonly tokens: readonly SecretSource[];
  /** A named token in the config by its id (`token:<name>`): a session made with one holds while it does, unrotated. */
  readonly configuredToken: (id: string) => ConfiguredToken | undefined;
  /** Resolves the token given at the login form. */
  readonly resolve: TokenResolver;
  /** The identity of the request's bearer token, resolved once per request (the router asks the same). */
  readonly bearer: (req: IncomingMessage) => Promise<Identity | undefined>;
  /** Where personal tokens are kept; without, the dashboard offers none. */
  readonly personalTokens?: PersonalTokenStore;
  readonly publicReads: boolean;
  /** How sessions are signed and ended (the handler's `sessions` option). */
  readonly sessions?: DashboardSessionOptions;
  /** Single sign-on through OpenID Connect (the handler's `oidc` option). */
  readonly oidc?: OidcOptions;
  /** Hides every secret value (raw and HTML-escaped) in a page. */
  readonly redact: () => (text: string) => string;
}

/** The dashboard's routes, `identify` (a session's identity, for the router) and `close` to end its event streams. */
export function uiRoutes(
  api: Api,
  options: UiOptions,
): { routes: Route[]; identify: (req: IncomingMessage) => Promise<Identity | undefined>; close: () => void } {
  const { reconciler, prefix } = api;
  /** The dashboard's path as the browser sees it (under a framework's mount path too). */
  const baseOf = (req: IncomingMessage) => `${mountOf(req, prefix)}/ui`;
  const keys = sessionKeys(
    options.tokens,
    options.sessions?.secret,
    api.log,
    options.oidc ? [options.oidc.clientSecret] : [],
  );
  const provider = options.oidc ? new OidcProvider(options.oidc) : undefined;
  // The token form is offered when tokens can log in, or when there is nothing else.
  const methods = {
    ...(provider ? { provider: provider.name } : {}),
    tokens: !provider || options.tokens.length > 0 || options.personalTokens !== undefined,
  };
  /** Where the audit log hears of sign-ins and sign-outs (DashboardSessionOptions.onSignIn). */
  const signInEvent = async (event: SignInEvent) => {
    api.log?.info(
      {
        action: event.action,
        outcome: event.outcome,
        method: event.method,
        who: event.identity?.id,
        reason: event.reason,
      },
      "dashboard sign-in",
    );
    await options.sessions?.onSignIn?.(event);
  };
  const sessions = new Sessions({
    keys,
    ...(options.sessions?.ttlMs !== undefined ? { ttlMs: options.sessions.ttlMs } : {}),
    ...(options.sessions?.revocations ? { revocations: options.sessions.revocations } : {}),
  });
  /** The request's session, read once however many parts of the request ask. */
  const current = requestSessions(sessions, options.personalTokens, options.configuredToken);
  const live = new LiveHub(reconciler, (text) => options.redact()(text));
  const rowSource = new RowSource(reconciler);
  const cookieHeader = (req: IncomingMessage, session: Session | undefined) => ({
    "set-cookie": sessionCookie(req, baseOf(req), session),
  });

  /** A logged-in session's identity (a session from before identities were kept has none: log in again). */
  const identify = async (req: IncomingMessage) => (await current(req)).identity;
  const viewOf = async (req: IncomingMessage, may?: RequestContext["may"]): Promise<ViewContext> => {
    const { session, identity } = await current(req);
    return {
      base: baseOf(req),
      session,
      canAct: identity !== undefined,
      ...(identity ? { identity } : {}),
      ...(may ? { may } : {}),
      canFollow: identity !== undefined || (await options.bearer(req)) !== undefined,
      seq: live.seq,
      epoch: live.epoch,
    };
  };
  /** The event stream of a caller who may read the targets `mayRead` allows (and no other's events). */
  const liveStream = (mayRead: (target: string) => boolean): Reply => ({
    status: 200,
    stream: (res) => {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // The connection ends with the stream, so a server closing is not held open by it.
        connection: "close",
        "x-accel-buffering": "no",
        ...SECURITY_HEADERS,
      });
      live.attach(res, mayRead);
    },
  });
  const page = (content: Html, status = 200, headers: Record<string, string> = {}): Reply => ({
    status,
    text: options.redact()(content.toString()),
    contentType: "text/html; charset=utf-8",
    headers: { ...SECURITY_HEADERS, ...headers },
  });
  const redirect = (location: string, headers: Record<string, string> = {}): Reply => ({
    status: 303,
    text: "",
    contentType: "text/plain; charset=utf-8",
    headers: { ...SECURITY_HEADERS, location, ...headers },
  });
  /** The login form again with why; a visitor without a session gets one, so the form can be sent. */
  const refused = async (req: IncomingMessage, message: string, status: number): Promise<Reply> => {
    const existing = (await current(req)).session;
    const session = existing ?? sessions.create(undefined);
    const view = { base: baseOf(req), session, canAct: session.authenticated };
    return {
      ...page(loginPage(view, message, methods), status, existing ? {} : cookieHeader(req, session)),
      detail: message,
    };
  };
  /**
   * The login form (401) for a request whose session ended with the personal
   * token it was signed in with, naming whom for the audit log; a new
   * anonymous cookie replaces the dead one. `undefined` for any other request.
   */
  const ended = async (req: IncomingMessage): Promise<Reply | undefined> => {
    const end = (await current(req)).ended;
    if (!end) return undefined;
    const session = sessions.create(undefined);
    const view = { base: baseOf(req), session, canAct: false };
    const message = `Your session ended: ${end.reason}. Log in again.`;
    return {
      ...page(loginPage(view, message, methods), 401, cookieHeader(req, session)),
      actor: end.identity,
      detail: `session ended: ${end.reason}`,
    };
  };
  /** How dashboard routes refuse: the way to the login form without an identity, a page naming the permission without it. */
  const refuse = async (ctx: Omit<RequestContext, "may">, refusal: Refusal): Promise<Reply> => {
    const end = ctx.identity ? undefined : await ended(ctx.req);
    if (end) return end;
    if (refusal.status === 403) {
      return page(messagePage(await viewOf(ctx.req), "Not allowed", `${refusal.message}.`), 403);
    }
    // A page leads to the login form; a form sent without a login gets it, with why.
    return ctx.req.method === "GET"
      ? redirect(`${baseOf(ctx.req)}/login`)
      : refused(ctx.req, "Log in to act on targets.", 401);
  };
  /**
   * A dashboard route: the session identifies the caller, the router checks
   * `auth` on `target`; a session that ended is refused on every such route,
   * `none` ones too.
   */
  const ui = (
    route: Pick<Route, "method" | "pattern" | "auth" | "handle"> &
      Partial<Pick<Route, "target" | "maxParam" | "audit">>,
  ): Route => ({
    ...route,
    session: true,
    refuse,
    handle: async (ctx) => (ctx.identity ? undefined : await ended(ctx.req)) ?? route.handle(ctx),
  });
  const form = async (req: IncomingMessage): Promise<URLSearchParams | Reply> => {
    const body = await readBody(req, api.maxBody);
    if (body === "too-large")
      return page(messagePage(await viewOf(req), "Too large", "The form is too large."), 413);
    return new URLSearchParams(body === "aborted" ? "" : body);
  };
  /** The 403 for a form whose CSRF token is not the session's; `undefined` when it is. */
  const csrfRefusal = async (req: IncomingMessage, session: Session | undefined, fields: URLSearchParams) =>
    csrfValid(session, fields.get("csrf") ?? undefined)
      ? undefined
      : await refused(
          req,
          "The form expired or did not come from this dashboard (CSRF token mismatch).",
          403,
        );
  const notFound = async (req: IncomingMessage, what: string) =>
    page(messagePage(await viewOf(req), "Not found", `${what} does not exist.`), 404);

  const deps: UiDeps = { ui, page, redirect, form, csrfRefusal, viewOf, refused, notFound, baseOf };
  const routes: Route[] = [
    ...(provider
      ? signInRoutes({
          ...deps,
          provider,
          sessions,
          keys,
          sessionCookie: (req, session) => sessionCookie(req, baseOf(req), session),
          signInEvent,
        })
      : []),
    ui(meRoute(deps)),
    {
      method: "GET",
      pattern: /^\/ui\/assets\/(app\.js|app\.css)$/,
      auth: "none",
      handle: ({ params: [file = ""] }) => ({
        status: 200,
        text: asset(file),
        contentType: file.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
        headers: SECURITY_HEADERS,
      }),
    },
    ui({
      method: "GET",
      pattern: /^\/ui$/,
      auth: "read",
      handle: async ({ req, query, may }) => {
        const rows = (await rowSource.rows()).filter((row) => may("read", row.name));
        const filter = {
          state: (query.get("state") ?? "").slice(0, MAX_ECHOED),
          q: (query.get("q") ?? "").slice(0, MAX_ECHOED),
        };
        return page(overviewPage(await viewOf(req, may), rows, filter));
      },
    }),
    {
      method: "GET",
      pattern: /^\/ui\/login$/,
      auth: "none",
      handle: async ({ req }) => {
        const existing = (await current(req)).session;
        const session = existing ?? sessions.create(undefined);
        const view = { base: baseOf(req), session, canAct: session.authenticated };
        return page(loginPage(view, undefined, methods), 200, existing ? {} : cookieHeader(req, session));
      },
    },
    {
      method: "POST",
      pattern: /^\/ui\/login$/,
      auth: "none",
      audit: "login",
      handle: async ({ req }) => {
        const fields = await form(req);
        if (!(fields instanceof URLSearchParams)) return fields;
        const { session } = await current(req);
        const forged = await csrfRefusal(req, session, fields);
        if (forged) return forged;
        if (!methods.tokens) return refused(req, "Sign in through the identity provider.", 400);
        const given = fields.get("token")?.trim();
        const identity = given ? await options.resolve(given) : undefined;
        if (!identity) {
          await signInEvent({
            action: "login",
            outcome: "refused",
            method: "token",
            reason: "unknown token",
            req,
          });
          return refused(req, "That token is not valid.", 401);
        }
        await signInEvent({ action: "login", outcome: "ok", method: "token", identity, req });
        // A new id on login, so a session id planted before it gains nothing.
        return {
          ...redirect(
            `${baseOf(req)}/`,
            cookieHeader(
              req,
              sessions.create(identity, undefined, identity.kind === "token" ? given : undefined),
            ),
          ),
          actor: identity,
          detail: "signed in with a token",
        };
      },
    },
    {
      method: "POST",
      pattern: /^\/ui\/logout$/,
      auth: "none",
      audit: "logout",
      handle: async ({ req }) => {
        const fields = await form(req);
        if (!(fields instanceof URLSearchParams)) return fields;
        const { session, identity: signedIn, ended: end } = await current(req);
        const forged = await csrfRefusal(req, session, fields);
        if (forged) return forged;
        if (session) await sessions.revoke(session);
        // A session whose token ended may still log out (its form is valid): the log names whose it was.
        const identity = signedIn ?? end?.identity;
        if (identity) {
          await signInEvent({
            action: "logout",
            outcome: "ok",
            method: identity.kind === "user" ? "oidc" : "token",
            identity,
            req,
          });
        }
        // A user of the provider is signed out there too, when it offers an end-session endpoint.
        const ending =
          provider && identity?.kind === "user"
            ? await provider.endSessionUrl(`${originOf(req)}${baseOf(req)}/login`, session?.idToken)
            : undefined;
        return {
          ...redirect(ending ?? `${baseOf(req)}/`, cookieHeader(req, undefined)),
          ...(identity ? { actor: identity } : {}),
        };
      },
    },
    ui({
      method: "GET",
      pattern: /^\/ui\/events$/,
      auth: "none",
      // A stream holds a connection for long: only people who logged in (or
      // carry a token) get one, even with publicReads; pages work without it.
      // Each gets the events of the targets it may read, as the overview shows them.
      handle: async ({ identity, may }) =>
        identity
          ? liveStream((target) => may("read", target))
          : {
              status: 401,
              text: "log in (or send a bearer token) to follow live updates\n",
              contentType: "text/plain; charset=utf-8",
              headers: SECURITY_HEADERS,
            },
    }),
    ui({
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)$/,
      auth: "read",
      target: namedTarget,
      handle: async ({ req, params: [name = ""], query, may }) => {
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        const applied = (await reconciler.status(name)).lastAppliedRevision;
        const subject = applied ? await rowSource.subject(name, applied) : undefined;
        const resources = {
          sync: (query.get("sync") ?? "").slice(0, MAX_ECHOED),
          all: query.get("resources") === "all",
        };
        const view = await viewOf(req, may);
        return page(
          await targetPage(view, reconciler, target, subject, query.get("queued") ?? undefined, resources),
        );
      },
    }),
    ui({
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)\/resources\/([^/]+)\/history$/,
      auth: "read",
      target: namedTarget,
      maxParam: MAX_URN,
      handle: async ({ req, params: [name = "", urn = ""], may }) => {
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        const [inventory, entries] = await Promise.all([
          reconciler.resources(name),
          reconciler.resourceHistory(name, urn),
        ]);
        const current = inventory?.resources.find((r) => r.urn === urn);
        return page(resourceHistoryPage(await viewOf(req, may), target, urn, current, entries));
      },
    }),
    ui({
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)\/row$/,
      auth: "read",
      target: namedTarget,
      handle: async ({ req, params: [name = ""], may }) => {
        if (!reconciler.target(name)) return notFound(req, `Target "${name}"`);
        const [row] = await rowSource.rows([name]);
        // In a table, or an HTML parser drops the row.
        return page(
          html`<table><tbody>${rowHtml(await viewOf(req, may), row as NonNullable<typeof row>)}</tbody></table>`,
        );
      },
    }),
    ...actionRoutes({ ...deps, reconciler, log: api.log }),
    ui({
      method: "GET",
      pattern: /^\/ui\/audit$/,
      // The audit log is for admins, never publicReads.
      auth: "admin",
      handle: async ({ req, query, may }) => {
        const view = await viewOf(req, may);
        if (!api.audit) return notFound(req, "The audit log");
        const read = auditQuery(query);
        if ("error" in read) return page(auditPage(view, [], {}, read.error), 400);
        return page(auditPage(view, await api.audit.listAudit(read.filter), read.filter));
      },
    }),
    ui({
      method: "GET",
      pattern: /^\/ui\/runs\/([^/]+)$/,
      auth: "read",
      target: runTarget(api),
      handle: async ({ req, params: [id = ""], may }) => {
        const run = await reconciler.run(id);
        if (!run) return notFound(req, `Run "${id}"`);
        return page(runPage(await viewOf(req, may), run, (await reconciler.runLog(id))?.text));
      },
    }),
    ui({
      method: "GET",
      pattern: /^\/ui\/runs\/([^/]+)\/log$/,
      auth: "read",
      target: runTarget(api),
      handle: async ({ req, params: [id = ""] }) => {
        const log = await reconciler.runLog(id);
        if (!log) return notFound(req, `Run "${id}"`);
        return {
          status: 200,
          text: options.redact()(log.text),
          contentType: "text/plain; charset=utf-8",
          headers: SECURITY_HEADERS,
        };
      },
    }),
    ...(options.personalTokens ? personalTokenRoutes({ ...deps, store: options.personalTokens }) : []),
  ];
  return { routes, identify, close: () => live.close() };
}
