/**
 * Single sign-on for the dashboard through OpenID Connect: `GET /ui/auth/start`
 * sends the browser to the provider, `GET /ui/auth/callback` takes it back
 * and opens a session carrying who signed in; `GET /ui/me` shows who that
 * is. The protocol lives in ../auth/oidc/; this module only speaks HTTP.
 */
import type { IncomingMessage } from "node:http";
import type { Identity } from "../../auth/identity.js";
import { SignInError } from "../../auth/oidc/idToken.js";
import type { OidcProvider } from "../../auth/oidc/provider.js";
import { SIGN_IN_COOKIE, SIGN_IN_TTL_S } from "../../auth/oidc/transient.js";
import { header, type Reply, type Route } from "../../router.js";
import type { UiDeps } from "../deps.js";
import { type Html, html } from "../html.js";
import { layout, type ViewContext } from "../layout.js";
import {
  cookies,
  overTls,
  type Session,
  type Sessions,
  type SessionTooLargeError,
  type SignInEvent,
} from "./session.js";

/** What the sign-in routes need: the dashboard's helpers, its sessions and their keys. */
export interface SignInContext extends Pick<UiDeps, "baseOf" | "viewOf" | "page" | "redirect" | "refused"> {
  readonly provider: OidcProvider;
  readonly sessions: Sessions;
  /** The session signing keys (the sign-in's cookie is sealed with them too). */
  readonly keys: () => readonly Buffer[];
  /** The `Set-Cookie` of a new session (or clearing it). */
  readonly sessionCookie: (req: IncomingMessage, session: Session | undefined) => string;
  readonly signInEvent: (event: SignInEvent) => Promise<void>;
}

/** The dashboard's origin as the browser sees it, from the request (TLS here or not, and its `Host`). */
export function originOf(req: IncomingMessage): string {
  return `${overTls(req) ? "https" : "http"}://${header(req, "host") ?? "localhost"}`;
}

/** The callback URL: configured, or this dashboard's own under the request's origin. */
export function redirectUriOf(ctx: SignInContext, req: IncomingMessage): string {
  return ctx.provider.redirectUrl ?? `${originOf(req)}${ctx.baseOf(req)}/auth/callback`;
}

/** The sign-in cookie: only sent to the callback's path, and (SameSite=Lax) on the provider's redirect back. */
function signInCookie(req: IncomingMessage, path: string, value: string | undefined): string {
  return [
    `${SIGN_IN_COOKIE}=${value ?? ""}`,
    `Path=${path}`,
    "HttpOnly",
    // Lax: the callback is a top-level navigation from the provider's site; Strict would not be sent.
    "SameSite=Lax",
    ...(overTls(req) ? ["Secure"] : []),
    `Max-Age=${value ? SIGN_IN_TTL_S : 0}`,
  ].join("; ");
}

/** The page that shows who is signed in (the header links to it). */
export function mePage(view: ViewContext, identity: Identity): Html {
  const groups = identity.groups.length
    ? html`<ul id="me-groups">${identity.groups.map((g) => html`<li>${g}</li>`)}</ul>`
    : html`<p id="me-groups" class="muted">none</p>`;
  return layout(
    view,
    "Signed in",
    html`<h1>Signed in as <span id="me-name">${identity.name}</span></h1>
<dl class="facts">
<dt>Identity</dt><dd><code id="me-id">${identity.id}</code></dd>
<dt>Kind</dt><dd id="me-kind">${identity.kind}</dd>
<dt>Email</dt><dd id="me-email">${identity.email ?? "—"}</dd>
<dt>Roles</dt><dd id="me-roles">${identity.roles.length ? identity.roles.join(", ") : "—"}</dd>
</dl>
<h2>Groups</h2>
${groups}`,
  );
}

/** The routes of single sign-on. */
export function signInRoutes(ctx: SignInContext): Route[] {
  const callbackPath = (req: IncomingMessage) => `${ctx.baseOf(req)}/auth`;
  const failed = async (req: IncomingMessage, error: unknown): Promise<Reply> => {
    if (!(error instanceof SignInError) && (error as Error).name !== "SessionTooLargeError") throw error;
    const message = (error as SignInError | SessionTooLargeError).message;
    await ctx.signInEvent({ action: "login", outcome: "refused", method: "oidc", reason: message, req });
    // The sign-in cookie is left to expire: the login page may set the session cookie in this reply.
    return ctx.refused(req, `Sign-in failed: ${message}`, (error as SignInError).status ?? 401);
  };
  return [
    {
      method: "GET",
      pattern: /^\/ui\/auth\/start$/,
      auth: "none",
      handle: async ({ req }) => {
        try {
          const { url, cookie } = await ctx.provider.start(redirectUriOf(ctx, req), ctx.keys());
          return ctx.redirect(url, { "set-cookie": signInCookie(req, callbackPath(req), cookie) });
        } catch (error) {
          return failed(req, error);
        }
      },
    },
    {
      method: "GET",
      pattern: /^\/ui\/auth\/callback$/,
      auth: "none",
      // Every callback is a login attempt: refused ones (a bad state or nonce, a spent code) too.
      audit: "login",
      handle: async ({ req, query }) => {
        let session: Session;
        try {
          const signedIn = await ctx.provider.finish(query, cookies(req)[SIGN_IN_COOKIE], ctx.keys());
          session = ctx.sessions.create(signedIn.identity, signedIn.idToken);
        } catch (error) {
          return failed(req, error);
        }
        const previous = await ctx.sessions.get(req);
        if (previous) await ctx.sessions.revoke(previous);
        await ctx.signInEvent({
          action: "login",
          outcome: "ok",
          method: "oidc",
          identity: session.identity,
          req,
        });
        const to = `${ctx.baseOf(req)}/`;
        // A page, not a redirect: the browser arrived from the provider's site,
        // and a redirect in that navigation would not send the SameSite=Strict
        // session cookie just set; a refresh from this page is same-site.
        const view = { ...(await ctx.viewOf(req)), session, canAct: true };
        return {
          ...ctx.page(
            layout(
              view,
              "Signed in",
              html`<h1>Signed in</h1><p>Signed in as <strong>${session.identity?.name ?? ""}</strong>. <a id="continue" href="${to}">Continue to the dashboard</a>.</p>`,
            ),
            200,
          ),
          // The sign-in cookie is left to expire (10 minutes): one Set-Cookie per reply here.
          headers: {
            ...ctx.page(html``).headers,
            refresh: `0;url=${to}`,
            "set-cookie": ctx.sessionCookie(req, session),
          },
          ...(session.identity
            ? { actor: session.identity, detail: `signed in with ${ctx.provider.name}` }
            : {}),
        };
      },
    },
  ];
}

/** `GET /ui/me`: who is signed in (any session: a token's or a user's). */
export function meRoute(ctx: Pick<SignInContext, "viewOf" | "page" | "redirect" | "baseOf">): Route {
  return {
    method: "GET",
    pattern: /^\/ui\/me$/,
    auth: "none",
    handle: async ({ req }) => {
      const view = await ctx.viewOf(req);
      const identity = view.session?.identity;
      return identity ? ctx.page(mePage(view, identity)) : ctx.redirect(`${ctx.baseOf(req)}/login`);
    },
  };
}
