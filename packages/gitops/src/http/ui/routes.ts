/**
 * The dashboard's routes under `/ui`: pages, their live event stream, the
 * login and logout forms, and the actions. Pages are read with a session,
 * a bearer token, or by anyone with `publicReads`; actions need a logged-in
 * session and its CSRF token.
 */
import type { IncomingMessage } from "node:http";
import { checkApprovalRequest } from "../../pipelines/approvals.js";
import { isShaPrefix } from "../../util.js";
import { readBody } from "../body.js";
import { mountOf } from "../mount.js";
import {
  type Api,
  bearerToken,
  errorReply,
  MAX_ECHOED,
  MAX_URN,
  type Reply,
  type Route,
  tokenActor,
  tokenMatches,
} from "../router.js";
import { auditQuery } from "../routes/audit.js";
import { asset, SECURITY_HEADERS } from "./assets.js";
import { auditPage } from "./audit.js";
import { ACTIONS, type Action, confirmPage, loginPage, messagePage } from "./forms.js";
import { type Html, html } from "./html.js";
import type { ViewContext } from "./layout.js";
import { LiveHub } from "./live.js";
import { overviewPage, rowHtml } from "./overview.js";
import { resourceHistoryPage } from "./resourceHistory.js";
import { RowSource } from "./rows.js";
import { runPage } from "./run.js";
import {
  csrfValid,
  type DashboardSessionOptions,
  type Session,
  Sessions,
  sessionCookie,
  sessionKeys,
} from "./session.js";
import { targetPage } from "./target.js";

/**
 * Who a logged-in dashboard session is in the audit log until sessions carry
 * identities (a session is opened with any valid token, and does not say which).
 */
const DASHBOARD_ACTOR = { id: "session", name: "dashboard session" } as const;

/** What the dashboard needs from the handler. */
export interface UiOptions {
  readonly tokens: Parameters<typeof tokenMatches>[0];
  readonly publicReads: boolean;
  /** How sessions are signed and ended (the handler's `sessions` option). */
  readonly sessions?: DashboardSessionOptions;
  /** Hides every secret value (raw and HTML-escaped) in a page. */
  readonly redact: () => (text: string) => string;
}

/** The dashboard's routes, and `close` to end its event streams. */
export function uiRoutes(api: Api, options: UiOptions): { routes: Route[]; close: () => void } {
  const { reconciler, prefix } = api;
  /** The dashboard's path as the browser sees it (under a framework's mount path too). */
  const baseOf = (req: IncomingMessage) => `${mountOf(req, prefix)}/ui`;
  const sessions = new Sessions({
    keys: sessionKeys(options.tokens, options.sessions?.secret, api.log),
    ...(options.sessions?.ttlMs !== undefined ? { ttlMs: options.sessions.ttlMs } : {}),
    ...(options.sessions?.revocations ? { revocations: options.sessions.revocations } : {}),
  });
  const live = new LiveHub(reconciler, (text) => options.redact()(text));
  const rowSource = new RowSource(reconciler);
  const cookieHeader = (req: IncomingMessage, session: Session | undefined) => ({
    "set-cookie": sessionCookie(req, baseOf(req), session),
  });

  const mayFollow = async (req: IncomingMessage) =>
    (await sessions.get(req))?.authenticated === true ||
    tokenMatches(options.tokens, bearerToken(req), api.log);
  const viewOf = async (req: IncomingMessage): Promise<ViewContext> => {
    const session = await sessions.get(req);
    return {
      base: baseOf(req),
      session,
      canAct: session?.authenticated === true,
      canFollow: session?.authenticated === true || tokenMatches(options.tokens, bearerToken(req), api.log),
      seq: live.seq,
      epoch: live.epoch,
    };
  };
  const mayRead = async (req: IncomingMessage) =>
    options.publicReads ||
    (await sessions.get(req))?.authenticated === true ||
    tokenMatches(options.tokens, bearerToken(req), api.log);
  const liveStream: Reply = {
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
      live.attach(res);
    },
  };
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
    const existing = await sessions.get(req);
    const session = existing ?? sessions.create(false);
    const view = { base: baseOf(req), session, canAct: session.authenticated };
    return page(loginPage(view, message), status, existing ? {} : cookieHeader(req, session));
  };
  /** A read page, or the way to the login form. */
  const read =
    (
      render: (
        req: IncomingMessage,
        params: readonly string[],
        query: URLSearchParams,
      ) => Promise<Reply> | Reply,
    ) =>
    async ({
      req,
      params,
      query,
    }: {
      req: IncomingMessage;
      params: readonly string[];
      query: URLSearchParams;
    }) =>
      (await mayRead(req)) ? render(req, params, query) : redirect(`${baseOf(req)}/login`);
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

  const act = async (req: IncomingMessage, name: string, action: Action): Promise<Reply> => {
    const view = await viewOf(req);
    const fields = await form(req);
    if (!(fields instanceof URLSearchParams)) return fields;
    // The session first, as the JSON API checks its token first: a 404 before
    // the login check would tell anyone which target names exist.
    if (!view.canAct) return refused(req, "Log in to act on targets.", 401);
    const forged = await csrfRefusal(req, view.session, fields);
    if (forged) return forged;
    const target = reconciler.target(name);
    if (!target) return notFound(req, `Target "${name}"`);
    const by = fields.get("by")?.trim() || undefined;
    const reason = fields.get("reason")?.trim() || undefined;
    const revision = fields.get("revision")?.trim() || undefined;
    if (revision !== undefined && !isShaPrefix(revision)) {
      return page(
        await confirmPage(
          view,
          reconciler,
          target,
          action,
          `revision must be a commit SHA, got "${revision}"`,
        ),
        400,
      );
    }
    const who = { ...(by ? { by } : {}), ...(reason ? { reason } : {}), ...(revision ? { revision } : {}) };
    try {
      let runId: string | undefined;
      if (action === "reconcile") runId = (await reconciler.request(name, { trigger: "manual" })).id;
      else if (action === "approve")
        runId = (await reconciler.approve(name, checkApprovalRequest(name, who))).id;
      else if (action === "promote" || action === "rollback") {
        runId = (await reconciler[action](name, who as { by: string; reason: string })).id;
      } else await reconciler[action](name, { ...(by ? { by } : {}), ...(reason ? { reason } : {}) });
      api.log?.info({ target: name, action, ...who }, "dashboard action");
      const to = `${baseOf(req)}/targets/${encodeURIComponent(name)}`;
      return redirect(runId ? `${to}?queued=${encodeURIComponent(runId)}` : to);
    } catch (error) {
      const reply = errorReply(error);
      if (!reply) throw error;
      const message = (reply.body as { error: string }).error;
      return page(await confirmPage(view, reconciler, target, action, message), reply.status);
    }
  };

  const routes: Route[] = [
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
    {
      method: "GET",
      pattern: /^\/ui$/,
      auth: "none",
      handle: read(async (req, _p, query) => {
        const rows = await rowSource.rows();
        const filter = {
          state: (query.get("state") ?? "").slice(0, MAX_ECHOED),
          q: (query.get("q") ?? "").slice(0, MAX_ECHOED),
        };
        return page(overviewPage(await viewOf(req), rows, filter));
      }),
    },
    {
      method: "GET",
      pattern: /^\/ui\/login$/,
      auth: "none",
      handle: async ({ req }) => {
        const existing = await sessions.get(req);
        const session = existing ?? sessions.create(false);
        const view = { base: baseOf(req), session, canAct: session.authenticated };
        return page(loginPage(view), 200, existing ? {} : cookieHeader(req, session));
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
        const session = await sessions.get(req);
        const forged = await csrfRefusal(req, session, fields);
        if (forged) return forged;
        const actor = tokenActor(options.tokens, fields.get("token") ?? undefined, api.log);
        if (!actor) return refused(req, "That token is not valid.", 401);
        // A new id on login, so a session id planted before it gains nothing.
        return { ...redirect(`${baseOf(req)}/`, cookieHeader(req, sessions.create(true))), actor };
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
        const session = await sessions.get(req);
        const forged = await csrfRefusal(req, session, fields);
        if (forged) return forged;
        if (session) await sessions.revoke(session);
        return {
          ...redirect(`${baseOf(req)}/`, cookieHeader(req, undefined)),
          ...(session?.authenticated ? { actor: DASHBOARD_ACTOR } : {}),
        };
      },
    },
    {
      method: "GET",
      pattern: /^\/ui\/events$/,
      auth: "none",
      // A stream holds a connection for long: only people who logged in (or
      // carry a token) get one, even with publicReads; pages work without it.
      handle: async ({ req }) =>
        (await mayFollow(req))
          ? liveStream
          : {
              status: 401,
              text: "log in (or send a bearer token) to follow live updates\n",
              contentType: "text/plain; charset=utf-8",
              headers: SECURITY_HEADERS,
            },
    },
    {
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)$/,
      auth: "none",
      handle: read(async (req, [name = ""], query) => {
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        const applied = (await reconciler.status(name)).lastAppliedRevision;
        const subject = applied ? await rowSource.subject(name, applied) : undefined;
        const resources = {
          sync: (query.get("sync") ?? "").slice(0, MAX_ECHOED),
          all: query.get("resources") === "all",
        };
        return page(
          await targetPage(
            await viewOf(req),
            reconciler,
            target,
            subject,
            query.get("queued") ?? undefined,
            resources,
          ),
        );
      }),
    },
    {
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)\/resources\/([^/]+)\/history$/,
      auth: "none",
      maxParam: MAX_URN,
      handle: read(async (req, [name = "", urn = ""]) => {
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        const [inventory, entries] = await Promise.all([
          reconciler.resources(name),
          reconciler.resourceHistory(name, urn),
        ]);
        const current = inventory?.resources.find((r) => r.urn === urn);
        return page(resourceHistoryPage(await viewOf(req), target, urn, current, entries));
      }),
    },
    {
      method: "GET",
      pattern: /^\/ui\/targets\/([^/]+)\/row$/,
      auth: "none",
      handle: read(async (req, [name = ""]) => {
        if (!reconciler.target(name)) return notFound(req, `Target "${name}"`);
        const [row] = await rowSource.rows([name]);
        // In a table, or an HTML parser drops the row.
        return page(
          html`<table><tbody>${rowHtml(await viewOf(req), row as NonNullable<typeof row>)}</tbody></table>`,
        );
      }),
    },
    {
      method: "GET",
      pattern: new RegExp(`^/ui/targets/([^/]+)/(${ACTIONS.join("|")})$`),
      auth: "none",
      handle: async ({ req, params: [name = "", action = ""] }) => {
        const view = await viewOf(req);
        if (!view.canAct) return redirect(`${baseOf(req)}/login`);
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        return page(await confirmPage(view, reconciler, target, action as Action));
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^/ui/targets/([^/]+)/(${ACTIONS.join("|")})$`),
      auth: "none",
      audit: ([, action = ""]) => action,
      handle: async ({ req, params: [name = "", action = ""] }) => {
        const reply = await act(req, name, action as Action);
        return (await sessions.get(req))?.authenticated ? { ...reply, actor: DASHBOARD_ACTOR } : reply;
      },
    },
    {
      method: "GET",
      pattern: /^\/ui\/audit$/,
      auth: "none",
      // The audit log is for admins: a logged-in session or a token, never publicReads.
      handle: async ({ req, query }) => {
        const view = await viewOf(req);
        if (!view.canFollow) return redirect(`${baseOf(req)}/login`);
        if (!api.audit) return notFound(req, "The audit log");
        const read = auditQuery(query);
        if ("error" in read) return page(auditPage(view, [], {}, read.error), 400);
        return page(auditPage(view, await api.audit.listAudit(read.filter), read.filter));
      },
    },
    {
      method: "GET",
      pattern: /^\/ui\/runs\/([^/]+)$/,
      auth: "none",
      handle: read(async (req, [id = ""]) => {
        const run = await reconciler.run(id);
        if (!run) return notFound(req, `Run "${id}"`);
        return page(runPage(await viewOf(req), run, (await reconciler.runLog(id))?.text));
      }),
    },
    {
      method: "GET",
      pattern: /^\/ui\/runs\/([^/]+)\/log$/,
      auth: "none",
      handle: read(async (req, [id = ""]) => {
        const log = await reconciler.runLog(id);
        if (!log) return notFound(req, `Run "${id}"`);
        return {
          status: 200,
          text: options.redact()(log.text),
          contentType: "text/plain; charset=utf-8",
          headers: SECURITY_HEADERS,
        };
      }),
    },
  ];
  return { routes, close: () => live.close() };
}
