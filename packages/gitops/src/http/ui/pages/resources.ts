/**
 * The Resources section of a target's page: the inventory as an indented tree
 * (components with their children), each row with its sync state, health,
 * drifted property paths and the run that last changed it; filters by state
 * as links, so they work without JavaScript. Pure: one inventory in, HTML out.
 */
import { resourceTree, syncCounts } from "../../../run/inventory.js";
import type {
  ResourceEntry,
  ResourceHealthStatus,
  ResourceNode,
  ResourceSyncState,
  TargetInventory,
} from "../../../types.js";
import { type Html, html } from "../html.js";
import { href, timeAt, type ViewContext } from "../layout.js";

/** Every sync state, in the order the filters list them. */
export const SYNC_STATES: readonly ResourceSyncState[] = ["synced", "drifted", "pending", "failed"];

/** Rows the section shows before it offers the rest behind a link (a big stack stays a fast page). */
export const SHOWN_ROWS = 300;

/** Indentation levels the stylesheet draws; deeper rows stay at the last one. */
const MAX_DEPTH = 8;

/** What the page's query asks of the section. */
export interface ResourceQuery {
  /** `?sync=`: one sync state, or empty for all. */
  readonly sync?: string;
  /** `?resources=all`: every row, however many. */
  readonly all?: boolean;
}

/** A resource and how deep it sits in the tree. */
export interface ResourceRow {
  readonly resource: ResourceEntry;
  readonly depth: number;
}

/**
 * The tree's rows in order: each parent before its children; roots in
 * inventory order (the stack first), siblings by name, so a page reads the
 * same after every run (the engine writes siblings it created in parallel in
 * any order).
 */
export function treeRows(resources: readonly ResourceEntry[]): ResourceRow[] {
  const rows: ResourceRow[] = [];
  // An explicit stack: a deep chain of components cannot overflow the call stack.
  const stack: [ResourceNode, number][] = resourceTree(resources)
    .reverse()
    .map((n) => [n, 0]);
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [ResourceNode, number];
    const { children, ...resource } = node;
    rows.push({ resource, depth });
    const sorted = [...children].sort(byName);
    for (let i = sorted.length - 1; i >= 0; i--) stack.push([sorted[i] as ResourceNode, depth + 1]);
  }
  return rows;
}

const byName = (a: ResourceEntry, b: ResourceEntry) =>
  a.name.localeCompare(b.name) || a.urn.localeCompare(b.urn);

/** A sync state badge, in words and color. */
export function syncBadge(sync: ResourceSyncState): Html {
  return html`<span class="badge sync-${sync}">${sync}</span>`;
}

/** A health badge, in words and color. */
export function healthBadge(health: ResourceHealthStatus): Html {
  return html`<span class="badge health-${health}">${health}</span>`;
}

/** The page listing a resource's history. */
export function historyHref(view: ViewContext, target: string, urn: string): string {
  return href(view, "targets", target, "resources", urn, "history");
}

/** What kind of thing a resource is: a Kubernetes kind with its namespace and name, else the type token. */
function kindOf(r: ResourceEntry): Html {
  const k = r.kubernetes;
  if (!k) return html`<code>${r.type}</code>`;
  return html`${k.kind} <span class="muted">${k.apiVersion}</span><br><code>${k.namespace ? `${k.namespace}/` : ""}${k.name}</code>`;
}

/** The state cell: the badge, and what the state means for this resource. */
function stateOf(r: ResourceEntry): Html {
  if (r.sync === "drifted") {
    const paths = r.driftPaths ?? [];
    return html`${syncBadge(r.sync)}${
      paths.length > 0
        ? html`<ul class="keys paths" aria-label="Changed properties">${paths.map((p) => html`<li><code>${p}</code></li>`)}</ul>`
        : html`<br><span class="muted">changed (or gone); the engine did not list the properties</span>`
    }`;
  }
  if (r.sync === "pending")
    return html`${syncBadge(r.sync)}<br><span class="muted">Git would ${r.pendingOp ?? "change"} it</span>`;
  if (r.sync === "failed") return html`${syncBadge(r.sync)}<br><span class="error">${r.error ?? ""}</span>`;
  return syncBadge(r.sync);
}

function lastChangeOf(view: ViewContext, r: ResourceEntry): Html | string {
  const c = r.lastChange;
  if (c)
    return html`${c.op} by run <a href="${href(view, "runs", c.runId)}">${c.runId.slice(0, 8)}</a><br>${timeAt(c.at)}`;
  return r.commit ? html`commit <code>${r.commit.slice(0, 8)}</code>` : "—";
}

function rowHtml(view: ViewContext, target: string, { resource: r, depth }: ResourceRow): Html {
  return html`<tr data-sync="${r.sync}" data-health="${r.health.status}" class="depth-${Math.min(depth, MAX_DEPTH)}"><th scope="row"><a href="${historyHref(view, target, r.urn)}" title="${r.urn}">${r.name}</a>${r.protect ? html` <span class="muted">(protected)</span>` : ""}</th><td>${kindOf(r)}</td><td>${stateOf(r)}</td><td>${healthBadge(r.health.status)}${r.health.reason ? html`<br><span class="muted">${r.health.reason}</span>` : ""}</td><td>${lastChangeOf(view, r)}</td></tr>`;
}

/** The filter links: all, then each state with its count; the current one marked. */
function filters(view: ViewContext, target: string, inventory: TargetInventory, sync: string): Html {
  const counts = syncCounts(inventory.resources);
  const page = href(view, "targets", target);
  const link = (value: string, label: Html | string, count: number) =>
    html`<li><a href="${value ? `${page}?sync=${value}` : page}#h-resources" aria-current="${value === sync ? "true" : "false"}">${label} <span class="count">${count}</span></a></li>`;
  return html`<nav aria-label="Filter resources by state"><ul class="counts">${link("", "all", inventory.resources.length)}${SYNC_STATES.map((s) => link(s, syncBadge(s), counts[s]))}</ul></nav>`;
}

/** The Resources section for a target's inventory (`undefined` before a run read one). */
export function resourcesSection(
  view: ViewContext,
  target: string,
  inventory: TargetInventory | undefined,
  query: ResourceQuery = {},
): Html {
  const heading = html`<h2 id="h-resources">Resources</h2>`;
  if (!inventory || inventory.resources.length === 0) {
    return html`<section aria-labelledby="h-resources">${heading}<p>${
      inventory ? "The stack manages no resources." : "No run has read the stack's resources yet."
    }</p></section>`;
  }
  const bad =
    query.sync !== undefined && query.sync !== "" && !SYNC_STATES.includes(query.sync as ResourceSyncState);
  const sync = bad ? "" : (query.sync ?? "");
  // A filter shows the matching rows flat: their parents may not match.
  const rows = sync
    ? inventory.resources.filter((r) => r.sync === sync).map((resource) => ({ resource, depth: 0 }))
    : treeRows(inventory.resources);
  const shown = query.all ? rows : rows.slice(0, SHOWN_ROWS);
  const page = href(view, "targets", target);
  const more =
    shown.length < rows.length
      ? html`<p>${shown.length} of ${rows.length} shown. <a href="${page}?${sync ? `sync=${sync}&` : ""}resources=all#h-resources">Show all ${rows.length}</a></p>`
      : "";
  return html`<section aria-labelledby="h-resources">${heading}
<p class="muted">As of run <a href="${href(view, "runs", inventory.runId)}">${inventory.runId.slice(0, 8)}</a>, ${timeAt(inventory.at)}. Each name links to the resource's history.</p>
${bad ? html`<p class="notice" role="status">sync must be one of ${SYNC_STATES.join(", ")}, got "${query.sync}": showing all.</p>` : ""}
${filters(view, target, inventory, sync)}
${
  rows.length === 0
    ? html`<p>No resource is ${sync}.</p>`
    : html`<table class="resources"><thead><tr><th scope="col">Resource</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Health</th><th scope="col">Last change</th></tr></thead>
<tbody>${shown.map((row) => rowHtml(view, target, row))}</tbody></table>${more}`
}</section>`;
}
