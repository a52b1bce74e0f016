// The overview: every target in one row with its state, revision, last run, next check and what it waits for;
// review stacks of pull requests grouped under their target, with a link to the pull request.
import { type Html, html } from "./html.js";
import { badge, href, layout, revisionLink, timeAt, type ViewContext } from "./layout.js";
import type { TargetRow } from "./rows.js";
import { type DisplayState, duration, STATES } from "./state.js";

/** One row of the overview table (also served alone for live updates). */
export function rowHtml(view: ViewContext, row: TargetRow): Html {
  return html`<tr id="row-${row.name}" data-target="${row.name}" data-state="${row.state}"${row.review ? html` class="review-stack" data-review-of="${row.review.target}"` : ""}>
<th scope="row" data-label="Target">${row.review ? html`<span class="review-of" aria-label="review stack of ${row.review.target}">↳</span> ` : ""}<a href="${href(view, "targets", row.name)}">${row.name}</a>${
    row.review
      ? html` <span class="muted">stack ${row.review.stack}, ${row.review.url ? html`<a href="${row.review.url}">pull request #${row.review.number}</a>` : html`pull request #${row.review.number}`}</span>`
      : ""
  }</th>
<td data-label="Mode">${row.mode ?? "—"}</td>
<td data-label="State">${badge(row.state)} <span class="reason">${row.reason}</span>${
    row.driftUnchecked
      ? html` <span class="badge unchecked" title="${row.driftUnchecked}">drift not checked</span>`
      : ""
  }<div class="muted">${row.message}</div></td>
<td data-label="Revision">${revisionLink(row.repo, row.revision)}${row.behind ? html` <span class="badge behind">behind Git</span>` : ""}${row.subject ? html` <span class="subject">${row.subject}</span>` : ""}</td>
<td data-label="Last run">${
    row.lastRun
      ? html`<a href="${href(view, "runs", row.lastRun.id)}">${row.lastRun.result}</a> ${timeAt(row.lastRun.at)}${
          row.lastRun.durationMs !== undefined
            ? html` <span class="muted">in ${duration(row.lastRun.durationMs)}</span>`
            : ""
        }`
      : "—"
  }</td>
<td data-label="Next check">${row.nextCheck ? html`branch ${timeAt(row.nextCheck)}` : "—"}${
    row.nextDriftCheck ? html`<div class="muted">drift ${timeAt(row.nextDriftCheck)}</div>` : ""
  }</td>
<td data-label="Waits for">${row.waiting ?? "—"}</td>
</tr>`;
}

/** The overview page, filtered by state and by a search over names, reasons and subjects. */
export function overviewPage(
  view: ViewContext,
  rows: readonly TargetRow[],
  filter: { readonly state?: string; readonly q?: string },
): Html {
  const counts = new Map<DisplayState, number>(STATES.map((s) => [s, 0]));
  for (const row of rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  const q = filter.q?.trim().toLowerCase() ?? "";
  const shown = rows.filter(
    (row) =>
      (!filter.state || row.state === filter.state) &&
      (!q || [row.name, row.reason, row.message, row.subject ?? ""].some((s) => s.toLowerCase().includes(q))),
  );
  const countLinks = STATES.map(
    (state) =>
      html`<li><a href="${view.base}/?state=${state}" data-count="${state}"${filter.state === state ? html` aria-current="true"` : ""}>${badge(state)} <span class="count">${counts.get(state) ?? 0}</span></a></li>`,
  );
  const options = STATES.map(
    (s) => html`<option value="${s}"${filter.state === s ? html` selected` : ""}>${s}</option>`,
  );
  const body = html`<h1>Targets <span class="muted" id="total">${rows.length}</span></h1>
<ul class="counts" aria-label="Targets by state">${countLinks}</ul>
<form class="filter" method="get" action="${view.base}/" role="search">
<label for="q">Search</label> <input id="q" name="q" type="search" value="${filter.q ?? ""}" placeholder="name, reason, commit">
<label for="state">State</label> <select id="state" name="state"><option value="">any</option>${options}</select>
<button type="submit">Filter</button>${filter.state || q ? html` <a href="${view.base}/">Clear</a>` : ""}
</form>
<table class="targets" id="targets">
<caption class="sr-only">Targets, their state and last run</caption>
<thead><tr><th scope="col">Target</th><th scope="col">Mode</th><th scope="col">State</th><th scope="col">Revision</th><th scope="col">Last run</th><th scope="col">Next check</th><th scope="col">Waits for</th></tr></thead>
<tbody>${grouped(shown).map((row) => rowHtml(view, row))}</tbody>
</table>
${shown.length === 0 ? html`<p>No target matches.</p>` : ""}`;
  return layout(view, "Targets", body, { target: "*" });
}

/** Rows in their order, each target's review stacks right after it (by pull request number). */
function grouped(rows: readonly TargetRow[]): TargetRow[] {
  const reviews = new Map<string, TargetRow[]>();
  for (const row of rows) {
    if (row.review) reviews.set(row.review.target, [...(reviews.get(row.review.target) ?? []), row]);
  }
  const bases = new Set(rows.filter((r) => !r.review).map((r) => r.name));
  return rows.flatMap((row) => {
    // A review stack whose target is filtered out keeps its own place.
    if (row.review) return bases.has(row.review.target) ? [] : [row];
    return [
      row,
      ...(reviews.get(row.name) ?? []).sort((a, b) => (a.review?.number ?? 0) - (b.review?.number ?? 0)),
    ];
  });
}
