/**
 * A target's neighbourhood as SVG: what it depends on or is promoted from on
 * the left, the target in the middle, what depends on it or is promoted from
 * it on the right. Promotion edges are dashed. A list says the same in words.
 */
import type { ResolvedTarget } from "../../spec/spec.js";
import { type Html, html } from "./html.js";
import { href, type ViewContext } from "./layout.js";
import type { DisplayState } from "./state.js";

interface Edge {
  readonly name: string;
  readonly kind: "dependency" | "promotion";
}

const NODE_W = 160;
const NODE_H = 34;
const GAP = 14;
const COL_X = [8, 250, 492] as const;

/** The edges into and out of a target. */
export function neighbours(
  target: ResolvedTarget,
  all: readonly ResolvedTarget[],
): { readonly upstream: Edge[]; readonly downstream: Edge[] } {
  const upstream: Edge[] = target.dependsOn.map((name) => ({ name, kind: "dependency" as const }));
  if (target.promote) upstream.push({ name: target.promote.from, kind: "promotion" });
  const downstream: Edge[] = [];
  for (const other of all) {
    if (other.dependsOn.includes(target.name)) downstream.push({ name: other.name, kind: "dependency" });
    if (other.promote?.from === target.name) downstream.push({ name: other.name, kind: "promotion" });
  }
  return { upstream, downstream };
}

/** The SVG graph and its text equivalent. */
export function graphHtml(
  view: ViewContext,
  target: ResolvedTarget,
  all: readonly ResolvedTarget[],
  stateOf: (name: string) => DisplayState,
): Html {
  const { upstream, downstream } = neighbours(target, all);
  if (upstream.length === 0 && downstream.length === 0) {
    return html`<p>No dependencies and no promotions.</p>`;
  }
  const rows = Math.max(upstream.length, downstream.length, 1);
  const height = rows * (NODE_H + GAP) + GAP;
  const y = (i: number, count: number) => GAP + i * (NODE_H + GAP) + ((rows - count) * (NODE_H + GAP)) / 2;
  const node = (name: string, x: number, top: number) =>
    html`<a href="${href(view, "targets", name)}"><g class="node state-${stateOf(name)}"><rect x="${x}" y="${top}" width="${NODE_W}" height="${NODE_H}" rx="6"></rect><text x="${x + 10}" y="${top + 22}">${name.length > 20 ? `${name.slice(0, 19)}…` : name}</text></g></a>`;
  const centre = y(0, 1);
  const edge = (kind: Edge["kind"], x1: number, y1: number, x2: number, y2: number) =>
    html`<line class="edge ${kind}" x1="${x1}" y1="${y1 + NODE_H / 2}" x2="${x2}" y2="${y2 + NODE_H / 2}" marker-end="url(#arrow)"></line>`;
  const parts = [
    ...upstream.map((e, i) => edge(e.kind, COL_X[0] + NODE_W, y(i, upstream.length), COL_X[1], centre)),
    ...downstream.map((e, i) => edge(e.kind, COL_X[1] + NODE_W, centre, COL_X[2], y(i, downstream.length))),
    ...upstream.map((e, i) => node(e.name, COL_X[0], y(i, upstream.length))),
    node(target.name, COL_X[1], centre),
    ...downstream.map((e, i) => node(e.name, COL_X[2], y(i, downstream.length))),
  ];
  const words = (edges: Edge[], dir: string) =>
    edges.map(
      (e) =>
        html`<li>${dir} <a href="${href(view, "targets", e.name)}">${e.name}</a> (${e.kind === "promotion" ? "promotion" : "depends on"})</li>`,
    );
  return html`<figure class="graph">
<svg viewBox="0 0 660 ${height}" width="660" height="${height}" role="group" aria-label="Dependencies and promotions of ${target.name}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>
${parts}
</svg>
<figcaption><ul>${words(upstream, "from")}${words(downstream, "to")}</ul><span class="muted">Solid: dependency; dashed: promotion.</span></figcaption>
</figure>`;
}
