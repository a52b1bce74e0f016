// One resource's page: what it is now (from the inventory) and the runs that created, updated, replaced or found it drifted.
import { urnName } from "../../../run/inventory.js";
import { RESOURCE_HISTORY_LIMIT } from "../../../store/store.js";
import type { ResourceEntry, ResourceHistoryEntry } from "../../../types.js";
import { type Html, html } from "../html.js";
import { href, layout, revisionLink, timeAt, type ViewContext } from "../layout.js";
import { changes } from "../run.js";
import { healthBadge, syncBadge } from "./resources.js";

/** What an entry's operation means, in words. */
const OP_TEXT: Readonly<Record<ResourceHistoryEntry["op"], string>> = {
  create: "created",
  update: "updated",
  replace: "replaced",
  delete: "deleted",
  drift: "drifted (changed outside Git)",
};

/** The properties an entry changed: the plan's values where it kept them, else the paths. */
function changed(entry: ResourceHistoryEntry): Html {
  if (entry.changes?.length) return changes({ diffs: entry.changes });
  if (entry.paths.length) return changes({ keys: entry.paths });
  return html`<span class="muted">${entry.op === "create" || entry.op === "delete" ? "the whole resource" : "not reported"}</span>`;
}

/** The history page of one resource. */
export function resourceHistoryPage(
  view: ViewContext,
  target: { readonly name: string; readonly repo?: string },
  urn: string,
  current: ResourceEntry | undefined,
  entries: readonly ResourceHistoryEntry[],
): Html {
  const name = current?.name ?? urnName(urn);
  const now = current
    ? html`<dt>State</dt><dd>${syncBadge(current.sync)}</dd>
<dt>Health</dt><dd>${healthBadge(current.health.status)} ${current.health.reason}</dd>
<dt>Type</dt><dd><code>${current.type}</code></dd>`
    : html`<dt>State</dt><dd>not in the stack's last inventory</dd>`;
  const body = html`<p><a href="${view.base}/">Targets</a> / <a href="${href(view, "targets", target.name)}">${target.name}</a> / <a href="${href(view, "targets", target.name)}#h-resources">Resources</a> /</p>
<h1>${name}</h1>
<dl class="facts">
<dt>URN</dt><dd><code>${urn}</code></dd>
${now}
</dl>
<section aria-labelledby="h-history"><h2 id="h-history">History</h2>
${
  entries.length === 0
    ? html`<p>No recorded run changed this resource or found it drifted.</p>`
    : html`<table class="history"><thead><tr><th scope="col">Run</th><th scope="col">What</th><th scope="col">Revision</th><th scope="col">Changed properties</th><th scope="col">When</th></tr></thead><tbody>${entries.map(
        (e) =>
          html`<tr class="op-${e.op}"><th scope="row"><a href="${href(view, "runs", e.runId)}">${e.runId.slice(0, 8)}</a></th><td><span class="op">${OP_TEXT[e.op]}</span></td><td>${revisionLink(target.repo, e.revision)}</td><td>${changed(e)}</td><td>${timeAt(e.at)}</td></tr>`,
      )}</tbody></table>`
}
<p class="muted">The last ${RESOURCE_HISTORY_LIMIT} changes of a resource are kept. Secret values are masked.</p></section>`;
  return layout(view, `${name} · ${target.name}`, body, { target: target.name });
}
