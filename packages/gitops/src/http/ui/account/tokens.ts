// Personal API tokens in the dashboard: a signed-in user lists, creates (shown once) and revokes their own.
// Creations and revocations are audited (`token.create`, `token.revoke`) with the token's name and id, never the token.
import { parseDuration } from "../../../spec/duration.js";
import type { PersonalTokenStore } from "../../../store/store.js";
import type { Identity } from "../../auth/identity.js";
import { newPersonalToken, tokenDigest } from "../../auth/tokens.js";
import type { Reply, RequestContext, Route } from "../../router.js";
import type { UiDeps } from "../deps.js";
import { type Html, html } from "../html.js";
import { csrfField, layout, timeAt, type ViewContext } from "../layout.js";

/** How the audit log names a personal token: its name and id, never the token. */
const tokenDetail = (label: string | undefined, id: string) =>
  label === undefined ? `token ${id}` : `token ${JSON.stringify(label)} (${id})`;

/** The longest a personal token may live. */
const MAX_TTL_MS = 366 * 24 * 3600_000;

/** What the token pages need: the dashboard's helpers and where tokens are kept. */
export interface TokenPagesDeps extends UiDeps {
  readonly store: PersonalTokenStore;
}

async function tokensPage(
  deps: TokenPagesDeps,
  view: ViewContext,
  owner: Identity,
  notice?: { readonly created?: string; readonly error?: string },
): Promise<Html> {
  const tokens = await deps.store.listPersonalTokens(owner.id);
  const now = Date.now();
  const body = html`<h1>Personal API tokens</h1>
<p>A personal token acts as you (<strong>${owner.name}</strong>), with your roles, until it expires or you revoke it.</p>
${notice?.error ? html`<p class="error" role="alert">${notice.error}</p>` : ""}
${
  notice?.created
    ? html`<div class="notice" role="status"><p>Your new token, shown this once only:</p><pre id="new-token">${notice.created}</pre></div>`
    : ""
}
<form method="post" action="${view.base}/tokens" class="stack">${csrfField(view)}
<label for="label">Name</label><input id="label" name="label" required maxlength="64">
<label for="expires">Expires after</label><input id="expires" name="expires" value="30d" required>
<button type="submit">Create token</button></form>
<table><thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"></th></tr></thead>
<tbody>${tokens.map((t) => {
    const state = t.revokedAt ? "revoked" : Date.parse(t.expiresAt) <= now ? "expired" : "active";
    return html`<tr><th scope="row">${t.label}</th><td>${timeAt(t.createdAt)}</td><td>${timeAt(t.expiresAt)}</td><td>${state}</td><td>${
      state === "active"
        ? html`<form method="post" action="${view.base}/tokens/${t.id}/revoke" class="inline">${csrfField(view)}<button type="submit">Revoke</button></form>`
        : ""
    }</td></tr>`;
  })}</tbody></table>`;
  return layout(view, "Personal API tokens", body);
}

/** `GET|POST /ui/tokens`, `POST /ui/tokens/:id/revoke`: a signed-in user's own tokens only. */
export function personalTokenRoutes(deps: TokenPagesDeps): Route[] {
  /** The signed-in user, or the reply refusing: only people (not tokens) own personal tokens. */
  const ownerOf = async (ctx: RequestContext): Promise<Identity | Reply> => {
    const view = await deps.viewOf(ctx.req);
    if (!ctx.identity) {
      if (ctx.req.method === "GET") return deps.redirect(`${view.base}/login`);
      // A form sent without a session is refused, not redirected: the audit log records it as such.
      const page = deps.page(
        layout(
          view,
          "Log in",
          html`<h1>Log in</h1><p><a href="${view.base}/login">Log in</a> to manage your personal tokens.</p>`,
        ),
        401,
      );
      return { ...page, detail: "not signed in" };
    }
    if (ctx.identity.kind !== "user") {
      const page = deps.page(
        layout(
          view,
          "Not allowed",
          html`<h1>Not allowed</h1><p>Only a signed-in person has personal tokens, not ${ctx.identity.kind === "token" ? "an API token" : "a personal token"}.</p>`,
        ),
        403,
      );
      return { ...page, detail: "only a signed-in person has personal tokens" };
    }
    return ctx.identity;
  };
  const isReply = (x: Identity | Reply): x is Reply => "status" in x;
  return [
    deps.ui({
      method: "GET",
      pattern: /^\/ui\/tokens$/,
      auth: "none",
      handle: async (ctx) => {
        const owner = await ownerOf(ctx);
        if (isReply(owner)) return owner;
        return deps.page(await tokensPage(deps, await deps.viewOf(ctx.req, ctx.may), owner));
      },
    }),
    deps.ui({
      method: "POST",
      pattern: /^\/ui\/tokens$/,
      auth: "none",
      audit: "token.create",
      handle: async (ctx) => {
        const owner = await ownerOf(ctx);
        if (isReply(owner)) return owner;
        const view = await deps.viewOf(ctx.req, ctx.may);
        const fields = await deps.form(ctx.req);
        if (!(fields instanceof URLSearchParams)) return fields;
        const forged = await deps.csrfRefusal(ctx.req, view.session, fields);
        if (forged) return forged;
        const label = fields.get("label")?.trim() ?? "";
        const expires = fields.get("expires")?.trim() ?? "";
        const ttl = parseDuration(expires);
        const error =
          label === "" || label.length > 64
            ? `name must be 1 to 64 characters, got ${JSON.stringify(label)}`
            : ttl === undefined || ttl <= 0 || ttl > MAX_TTL_MS
              ? `expires must be a duration up to 366d such as "30d", got ${JSON.stringify(expires)}`
              : undefined;
        if (error)
          return { ...deps.page(await tokensPage(deps, view, owner, { error }), 400), detail: error };
        const { id, token } = newPersonalToken();
        const now = Date.now();
        const { kind: _k, ...who } = owner;
        await deps.store.addPersonalToken({
          id,
          label,
          owner: who,
          digest: tokenDigest(token),
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + (ttl as number)).toISOString(),
        });
        return {
          ...deps.page(await tokensPage(deps, view, owner, { created: token }), 201),
          detail: tokenDetail(label, id),
        };
      },
    }),
    deps.ui({
      method: "POST",
      pattern: /^\/ui\/tokens\/([\w-]+)\/revoke$/,
      auth: "none",
      audit: "token.revoke",
      handle: async (ctx) => {
        const owner = await ownerOf(ctx);
        if (isReply(owner)) return owner;
        const view = await deps.viewOf(ctx.req, ctx.may);
        const fields = await deps.form(ctx.req);
        if (!(fields instanceof URLSearchParams)) return fields;
        const forged = await deps.csrfRefusal(ctx.req, view.session, fields);
        if (forged) return forged;
        const id = ctx.params[0] ?? "";
        // Its name for the audit log, read before it is revoked (an id alone says little to a reader).
        const label = (await deps.store.listPersonalTokens(owner.id)).find((t) => t.id === id)?.label;
        const revoked = await deps.store.revokePersonalToken(id, owner.id, new Date().toISOString());
        if (!revoked) {
          return {
            ...deps.page(
              await tokensPage(deps, view, owner, { error: "You have no such active token." }),
              404,
            ),
            detail: `no active token ${id}`,
          };
        }
        return { ...deps.redirect(`${view.base}/tokens`), detail: tokenDetail(label, id) };
      },
    }),
  ];
}
