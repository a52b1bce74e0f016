// The audit page: the log's newest entries, filtered by target, actor and time, with each outcome in words and color.
import type { AuditEntry } from "../../../store/audit/chain.js";
import type { AuditFilter } from "../../../store/store.js";
import { type Html, html } from "../html.js";
import { href, layout, timeAt, type ViewContext } from "../layout.js";

/** One entry as a table row. */
function entryRow(view: ViewContext, e: AuditEntry): Html {
  return html`<tr data-id="${e.id}" data-outcome="${e.outcome}">
<td data-label="#">${e.id}</td>
<td data-label="Time">${timeAt(e.time)}</td>
<td data-label="Actor">${e.actor ?? html`<span class="muted">anonymous</span>`}</td>
<td data-label="Action">${e.action}</td>
<td data-label="Target">${e.target ? html`<a href="${href(view, "targets", e.target)}">${e.target}</a>` : "—"}</td>
<td data-label="Outcome"><span class="badge outcome-${e.outcome}">${e.outcome}</span> <span class="muted">${e.status}</span></td>
<td data-label="Source">${e.source ?? "—"}</td>
<td data-label="Detail">${e.detail ?? ""}<div class="muted"><code>${e.requestId}</code></div></td>
</tr>`;
}

/** The audit page; `error` is why the filter was refused (then no entries are listed). */
export function auditPage(
  view: ViewContext,
  entries: readonly AuditEntry[],
  filter: AuditFilter & { readonly limit?: number },
  error?: string,
): Html {
  const filtered = filter.target || filter.actor || filter.since;
  const body = html`<h1>Audit log</h1>
<form class="filter" method="get" action="${view.base}/audit" role="search">
<label for="target">Target</label> <input id="target" name="target" value="${filter.target ?? ""}">
<label for="actor">Actor</label> <input id="actor" name="actor" value="${filter.actor ?? ""}">
<label for="since">Since</label> <input id="since" name="since" value="${filter.since ?? ""}" placeholder="2026-01-31T12:00:00Z">
<button type="submit">Filter</button>${filtered ? html` <a href="${view.base}/audit">Clear</a>` : ""}
</form>
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
<table class="audit" id="audit">
<caption class="sr-only">Audit entries, newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Source</th><th scope="col">Detail</th></tr></thead>
<tbody>${entries.map((e) => entryRow(view, e))}</tbody>
</table>
${entries.length === 0 && !error ? html`<p>No entry matches.</p>` : ""}
<p class="muted">Newest first, at most ${filter.limit ?? 100}. <code>driftless audit verify</code> checks the chain.</p>`;
  return layout(view, "Audit log", body);
}
