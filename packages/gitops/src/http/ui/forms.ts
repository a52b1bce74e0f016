// The login form and the confirmation page of each action (the approval shows exactly the held plan).
import type { Reconciler } from "../../reconciler.js";
import type { ResolvedTarget } from "../../spec/spec.js";
import { type Html, html } from "./html.js";
import { csrfField, href, layout, timeAt, type ViewContext } from "./layout.js";
import { planTable } from "./run.js";
import { short } from "./state.js";

/** Actions the dashboard can take on a target. */
export const ACTIONS = ["reconcile", "approve", "promote", "rollback", "suspend", "resume"] as const;
export type Action = (typeof ACTIONS)[number];

/** A page that only says something (a missing target or run). */
export function messagePage(view: ViewContext, title: string, message: string): Html {
  return layout(
    view,
    title,
    html`<h1>${title}</h1><p>${message}</p><p><a href="${view.base}/">Back to the targets</a></p>`,
  );
}

/** How one may sign in: through a provider (named on its button), with a token, or both. */
export interface LoginMethods {
  /** The OpenID Connect provider's name, when single sign-on is configured. */
  readonly provider?: string;
  /** Whether the token form is offered. @default true */
  readonly tokens?: boolean;
}

/** The login page: "Sign in with <provider>", and a token exchanged for a session cookie. */
export function loginPage(view: ViewContext, error?: string, methods: LoginMethods = {}): Html {
  const tokens = methods.tokens ?? true;
  const sso = methods.provider
    ? html`<p><a class="button" id="sign-in" href="${view.base}/auth/start">Sign in with ${methods.provider}</a></p>`
    : "";
  const form = tokens
    ? html`${methods.provider ? html`<h2>Or with an API token</h2>` : ""}
<form method="post" action="${view.base}/login" class="stack">
${csrfField(view)}
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>
<p class="muted">The token is one of the server's API bearer tokens; it is kept in no cookie, only a session id is.</p>`
    : "";
  const body = html`<h1>Log in</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
${sso}
${form}`;
  return layout(view, "Log in", body);
}

// Who acts is the logged-in identity; the form asks only why.
const whoFields = (required: boolean) => html`<label for="reason">Reason</label>
<input id="reason" name="reason" ${required ? "required" : ""}>`;

/** The confirmation page of an action on a target. */
export async function confirmPage(
  view: ViewContext,
  reconciler: Reconciler,
  target: ResolvedTarget,
  action: Action,
  error?: string,
): Promise<Html> {
  const name = target.name;
  const status = await reconciler.status(name);
  let what: Html;
  let fields: Html = html``;
  switch (action) {
    case "reconcile":
      what = html`<p>Queue a run of <strong>${name}</strong> now, even if its revision did not change.</p>`;
      break;
    case "approve": {
      const held = status.awaitingApproval;
      if (held) {
        const run = await reconciler.run(held.runId);
        what = html`<p>Apply exactly this plan of <strong>${name}</strong>, made at revision <code>${short(held.revision)}</code> on ${timeAt(held.plannedAt)}. If the revision or the stack's state changed since, the new plan waits for approval again.</p>
${planTable(run?.plan)}`;
        fields = html`<input type="hidden" name="revision" value="${held.revision}">${whoFields(true)}`;
      } else if (status.stalledRevision) {
        what = html`<p>Apply revision <code>${short(status.stalledRevision)}</code> of <strong>${name}</strong> past the gate that stopped it.</p>`;
        fields = html`<input type="hidden" name="revision" value="${status.stalledRevision}">${whoFields(true)}`;
      } else {
        what = html`<p>Nothing of <strong>${name}</strong> waits for approval.</p>`;
      }
      break;
    }
    case "promote":
    case "rollback":
      what =
        action === "promote"
          ? html`<p>Promote <strong>${name}</strong> now to a revision its upstream <strong>${target.promote?.from ?? "—"}</strong> applied (the latest unless you name one), without waiting for the soak time.</p>`
          : html`<p>Roll <strong>${name}</strong> back to a revision it applied before (the one before the current unless you name one).</p>`;
      fields = html`<label for="revision">Revision (optional)</label><input id="revision" name="revision" pattern="[0-9a-f]{7,40}">${whoFields(true)}`;
      break;
    case "suspend":
      what = html`<p>Suspend scheduled runs of <strong>${name}</strong>; webhooks skip it, manual runs still work.</p>`;
      fields = whoFields(true);
      break;
    case "resume":
      what = html`<p>Resume scheduled runs of <strong>${name}</strong>.</p>`;
      fields = whoFields(true);
      break;
  }
  const body = html`<p><a href="${view.base}/">Targets</a> / <a href="${href(view, "targets", name)}">${name}</a> /</p>
<h1>Confirm: ${action} ${name}</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
${what}
<form method="post" action="${href(view, "targets", name, action)}" class="stack">
${csrfField(view)}
${fields}
<div class="row"><button type="submit">Confirm ${action}</button> <a href="${href(view, "targets", name)}">Cancel</a></div>
</form>`;
  return layout(view, `Confirm ${action}`, body);
}
