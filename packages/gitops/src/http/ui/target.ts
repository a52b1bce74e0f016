// A target's page: state and conditions, actions, resources, graph, spec without secrets, outputs, runs and promotions.
import type { Reconciler } from "../../reconciler.js";
import { isSuspended } from "../../run/status.js";
import type { ResolvedTarget } from "../../spec/spec.js";
import type { TargetStatus } from "../../types.js";
import { formatCounts } from "../../util.js";
import type { Action } from "../auth/identity.js";
import { publicTarget } from "../views.js";
import { graphHtml } from "./graph.js";
import { type Html, html } from "./html.js";
import { badge, href, layout, revisionLink, timeAt, type ViewContext } from "./layout.js";
import { type ResourceQuery, resourcesSection } from "./pages/resources.js";
import { conditionStatusText, displayState, duration, waitingFor } from "./state.js";

/** Actions a target offers now, as [action, label]. */
export function targetActions(target: ResolvedTarget, status: TargetStatus): [string, string][] {
  const actions: [string, string][] = [["reconcile", "Reconcile now"]];
  if (status.awaitingApproval || status.stalledRevision) actions.push(["approve", "Approve…"]);
  if (target.promote) actions.push(["promote", "Promote…"], ["rollback", "Roll back…"]);
  actions.push(isSuspended(status, target.suspend) ? ["resume", "Resume…"] : ["suspend", "Suspend…"]);
  return actions;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The last suspend or resume, with who and why. */
function suspension(s: TargetStatus["suspension"]): Html | "" {
  if (!s) return "";
  return html`<dt>${s.suspended ? "Suspended" : "Resumed"}</dt><dd id="suspension">${timeAt(s.at)}${
    s.by
      ? html` by <strong>${s.by}</strong>${s.onBehalfOf ? html` for <strong>${s.onBehalfOf}</strong>` : ""}: ${s.reason ?? ""}`
      : ""
  }</dd>`;
}

/** The target page. */
export async function targetPage(
  view: ViewContext,
  reconciler: Reconciler,
  target: ResolvedTarget,
  subject: string | undefined,
  queued: string | undefined,
  resources: ResourceQuery = {},
): Promise<Html> {
  const name = target.name;
  const statuses = new Map((await reconciler.statuses()).map((s) => [s.name, s]));
  const stateOf = (n: string) => {
    const spec = reconciler.target(n);
    const of = statuses.get(n);
    return spec && of ? displayState(of, isSuspended(of, spec.suspend)).state : "Unknown";
  };
  const status = statuses.get(name) ?? (await reconciler.status(name));
  const state = displayState(status, isSuspended(status, target.suspend));
  const waiting = waitingFor(status);
  const next = reconciler.nextCheck(name, status)?.toISOString();
  const runs = await reconciler.history(name, 20);
  const promotions = await reconciler.promotions(name, 20);
  const inventory = await reconciler.resources(name);
  const conditions = [...status.conditions].sort((a, b) => a.type.localeCompare(b.type));
  const offered = targetActions(target, status).filter(([action]) =>
    view.may ? view.may(action as Action, name) : false,
  );
  const actions = view.canAct
    ? html`<ul class="actions">${offered.map(
        ([action, label]) =>
          html`<li><a class="button" href="${href(view, "targets", name, action)}">${label}</a></li>`,
      )}</ul>`
    : html`<p class="muted"><a href="${view.base}/login">Log in</a> to act on this target.</p>`;
  const body = html`<p><a href="${view.base}/">Targets</a> /</p>
<h1>${name} ${badge(state.state)}</h1>
${queued ? html`<p class="notice" role="status">Run <a href="${href(view, "runs", queued)}">${queued}</a> queued.</p>` : ""}
<dl class="facts">
<dt>Reason</dt><dd><span class="reason">${state.reason}</span> ${state.message}</dd>
<dt>Applied revision</dt><dd>${revisionLink(target.repo, status.lastAppliedRevision)} ${subject ?? ""}</dd>
<dt>Waits for</dt><dd>${waiting ?? "—"}</dd>
${suspension(status.suspension)}
<dt>Next check</dt><dd>${timeAt(next)}</dd>
</dl>
${actions}
<section aria-labelledby="h-conditions"><h2 id="h-conditions">Conditions</h2>
<table><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
<tbody>${conditions.map(
    (c) =>
      html`<tr><th scope="row">${c.type}</th><td>${conditionStatusText(c.status)}</td><td>${c.reason}</td><td>${c.message}</td><td>${timeAt(c.since)}</td></tr>`,
  )}</tbody></table></section>
${resourcesSection(view, name, inventory, resources)}
<section aria-labelledby="h-graph"><h2 id="h-graph">Dependencies and promotions</h2>
${graphHtml(view, target, reconciler.targets(), stateOf)}</section>
<section aria-labelledby="h-runs"><h2 id="h-runs">Runs</h2>
${
  runs.length === 0
    ? html`<p>No runs yet.</p>`
    : html`<table><thead><tr><th scope="col">Run</th><th scope="col">Trigger</th><th scope="col">Revision</th><th scope="col">Result</th><th scope="col">Changes</th><th scope="col">Started</th><th scope="col">Duration</th></tr></thead><tbody>${runs.map(
        (r) =>
          html`<tr><th scope="row"><a href="${href(view, "runs", r.id)}">${r.id.slice(0, 8)}</a></th><td>${r.trigger}</td><td>${revisionLink(target.repo, r.revision)}</td><td>${r.result ?? "running"}${r.drift ? " (drift)" : ""}</td><td>${r.counts ? formatCounts(r.counts) : "—"}</td><td>${timeAt(r.startedAt)}</td><td>${r.finishedAt ? duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : "running"}</td></tr>`,
      )}</tbody></table>`
}</section>
<section aria-labelledby="h-promotions"><h2 id="h-promotions">Promotions</h2>
${
  promotions.length === 0
    ? html`<p>No promotions.</p>`
    : html`<table><thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">From</th><th scope="col">Revision</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead><tbody>${promotions.map(
        (p) =>
          html`<tr><td>${timeAt(p.at)}</td><td>${p.kind}</td><td>${p.source}</td><td>${revisionLink(target.repo, p.revision)}</td><td>${p.by ?? "—"}${p.onBehalfOf ? ` for ${p.onBehalfOf}` : ""}</td><td>${p.reason ?? "—"}</td></tr>`,
      )}</tbody></table>`
}</section>
<section aria-labelledby="h-outputs"><h2 id="h-outputs">Outputs</h2>
<p class="muted">Secret outputs are masked.</p><pre tabindex="0">${json(status.outputs ?? {})}</pre></section>
<section aria-labelledby="h-spec"><h2 id="h-spec">Spec</h2>
<p class="muted">Secret config and environment appear as key names only.</p><pre tabindex="0">${json(publicTarget(target))}</pre></section>`;
  return layout(view, name, body, { target: name });
}
