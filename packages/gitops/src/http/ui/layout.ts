// The page frame every dashboard page shares: head, navigation, login state and the live-update hook.

import type { Action, Identity } from "../auth/identity.js";
import type { Session } from "./account/session.js";
import { Html, html } from "./html.js";
import type { LiveHub } from "./live.js";
import { commitUrl, type DisplayState, short, timeText } from "./state.js";

/** Who looks at a page, and where the dashboard is mounted. */
export interface ViewContext {
  /** Path of the dashboard, e.g. `/driftless/ui`. */
  readonly base: string;
  readonly session: Session | undefined;
  /** Whether the viewer is logged in (what they may do is {@link may}). */
  readonly canAct: boolean;
  /** Who is logged in. */
  readonly identity?: Identity;
  /** Whether the viewer may take an action on a target: pages offer only those. @default - nothing */
  readonly may?: (action: Action, target?: string) => boolean;
  /** Whether the viewer may follow the event stream (a session or a token; not `publicReads` alone). @default false */
  readonly canFollow?: boolean;
  /** The event stream's sequence number when the page was rendered: a page that missed events refreshes. */
  readonly seq?: number;
  /** The event stream's {@link LiveHub.epoch}: a page rendered by another process refreshes. */
  readonly epoch?: string;
}

/** A URL under the dashboard, each path segment encoded. */
export function href(view: ViewContext, ...segments: readonly string[]): string {
  return [view.base, ...segments.map(encodeURIComponent)].join("/");
}

/** A state badge: in words and color together. */
export function badge(state: DisplayState): Html {
  return html`<span class="badge state-${state}">${state}</span>`;
}

/** A hidden CSRF field for a form. */
export function csrfField(view: ViewContext): Html {
  return view.session ? html`<input type="hidden" name="csrf" value="${view.session.csrf}">` : new Html("");
}

/** A whole page. `live` names what the page follows on the event stream (a target, a run, or all). */
export function layout(
  view: ViewContext,
  title: string,
  body: Html,
  following: { readonly target?: string; readonly run?: string } = {},
): Html {
  // A page whose viewer may not open the stream does not try (and retry) in vain; it works without.
  const live = view.canFollow ? following : {};
  const who = view.session?.identity;
  const account = view.canAct
    ? html`${view.identity?.kind === "user" ? html`<a href="${view.base}/tokens">Tokens</a> ` : ""}${who ? html`<a class="who" id="signed-in-as" href="${view.base}/me" title="${who.email ?? who.id}">${who.name}</a> ` : ""}<form method="post" action="${view.base}/logout" class="inline">${csrfField(view)}<button type="submit" class="link">Log out</button></form>`
    : html`<a href="${view.base}/login">Log in</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Driftless</title>
<link rel="stylesheet" href="${view.base}/assets/app.css">
<script type="module" src="${view.base}/assets/app.js"></script>
</head>
<body data-base="${view.base}" data-seq="${view.seq ?? 0}" data-epoch="${view.epoch ?? ""}" data-live-target="${live.target ?? ""}" data-live-run="${live.run ?? ""}">
<a class="skip" href="#main">Skip to content</a>
<header class="top"><nav aria-label="Main"><a class="brand" href="${view.base}/">Driftless</a>
<span class="live" id="live-status" role="status" aria-live="polite">offline</span>
${account}</nav></header>
<main id="main">
${body}
</main>
</body>
</html>
`;
}

/** A time element: relative and absolute (UTC) text, the ISO value in `datetime` for the script and machines. */
export function timeAt(iso: string | undefined): Html | string {
  return iso ? html`<time datetime="${iso}" title="${iso}">${timeText(iso)}</time>` : "—";
}

/** A short revision, linked to its commit page when the repository is on a known Git host. */
export function revisionLink(repo: string | undefined, revision: string | undefined): Html {
  const url = repo && revision ? commitUrl(repo, revision) : undefined;
  return url
    ? html`<a href="${url}" rel="noreferrer"><code>${short(revision)}</code></a>`
    : html`<code>${short(revision)}</code>`;
}
