// A run's page: its steps with timings, the plan with changed properties, drift, log, and the error with its retry policy.
import type { RunRecord } from "../../types.js";
import { formatCounts } from "../../util.js";
import { type Html, html } from "./html.js";
import { href, layout, timeAt, type ViewContext } from "./layout.js";
import { duration, short } from "./state.js";

/** One step of a run and how long it took. */
export interface StepTiming {
  readonly step: string;
  readonly ms: number;
}

/**
 * A run's steps with their durations, from the summary line the run writes
 * last in its log (`<time> [steps] resolveRevision 262 ms; decide 0 ms; …`);
 * empty for a run still in progress or one that never started work.
 */
export function stepTimings(run: RunRecord): StepTiming[] {
  const line = run.log
    .split("\n")
    .reverse()
    .find((l) => / \[steps\] /.test(l));
  if (!line) return [];
  const summary = line.slice(line.indexOf("[steps] ") + 8);
  // A step named without a time took under a millisecond.
  return summary.split("; ").flatMap((item) => {
    const m = /^([A-Za-z]+)(?: (\d+) ms)?$/.exec(item.trim());
    return m ? [{ step: m[1] as string, ms: Number(m[2] ?? 0) }] : [];
  });
}

/** What happens after a run that ended this way. */
export function retryPolicy(run: RunRecord): string | undefined {
  switch (run.result) {
    case "failed":
      return "Retried automatically with capped exponential backoff and jitter; a new revision or a manual run also retries.";
    case "stalled":
      return "Not retried for this revision: a new revision, an approval or a manual run resumes.";
    case "cancelled":
      return "Cancelled; a run that exceeded its timeout is retried with backoff, others wait for the next trigger.";
    case "interrupted":
      return "The process stopped during the run; the next run recovers the stack first.";
    default:
      return undefined;
  }
}

/** A value of a property change as JSON text (secrets are already `[secret]`). */
const shown = (value: unknown) => (value === undefined ? "—" : JSON.stringify(value));

/** What changes in one planned step: each property with its old and new value, else the changed names. */
export function changes(step: Pick<NonNullable<RunRecord["plan"]>[number], "diffs" | "keys">): Html {
  if (step.diffs && step.diffs.length > 0) {
    return html`<ul class="keys">${step.diffs.map(
      (d) =>
        html`<li><code>${d.path}</code> <span class="muted">${d.kind}${d.replace ? ", forces replacement" : ""}</span><br><del>${shown(d.old)}</del> → <ins>${shown(d.new)}</ins></li>`,
    )}</ul>`;
  }
  if (step.keys && step.keys.length > 0) {
    return html`<ul class="keys">${step.keys.map((k) => html`<li><code>${k}</code></li>`)}</ul>`;
  }
  return html`<span class="muted">not reported</span>`;
}

/** A plan as a table: operation, resource, type and the property changes the engine reported. */
export function planTable(plan: RunRecord["plan"]): Html {
  if (!plan || plan.length === 0) return html`<p>No planned changes recorded.</p>`;
  return html`<table class="plan"><thead><tr><th scope="col">Operation</th><th scope="col">Resource</th><th scope="col">Type</th><th scope="col">Changed properties</th></tr></thead><tbody>${plan.map(
    (s) =>
      html`<tr class="op-${s.op}"><td><span class="op">${s.op}</span></td><th scope="row">${s.urn.split("::").at(-1)}</th><td><code>${s.type}</code></td><td>${changes(s)}</td></tr>`,
  )}</tbody></table>`;
}

/** Lines of the stored log the run page shows; the whole log is a link away. */
const PAGE_LOG_LINES = 2000;

/** The run page; `fullLog` is the run's stored log (all of it, as far as it was written). */
export function runPage(view: ViewContext, run: RunRecord, fullLog?: string): Html {
  const lines = (fullLog ?? run.log).trimEnd().split("\n");
  const shown = lines.slice(-PAGE_LOG_LINES).join("\n");
  const steps = stepTimings(run);
  const total = run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : undefined;
  const policy = retryPolicy(run);
  const who = (label: string, o: RunRecord["override"]) =>
    o ? html`<dt>${label}</dt><dd>${o.by}: ${o.reason}</dd>` : "";
  const body = html`<p><a href="${view.base}/">Targets</a> / <a href="${href(view, "targets", run.target)}">${run.target}</a> /</p>
<h1>Run <code>${run.id.slice(0, 8)}</code> <span class="badge result-${run.result ?? "running"}">${run.result ?? "running"}</span></h1>
<dl class="facts">
<dt>Target</dt><dd><a href="${href(view, "targets", run.target)}">${run.target}</a></dd>
<dt>Trigger</dt><dd>${run.trigger}</dd>
<dt>Revision</dt><dd><code>${short(run.revision)}</code></dd>
<dt>Started</dt><dd>${timeAt(run.startedAt)}</dd>
<dt>Duration</dt><dd>${total !== undefined ? duration(total) : "running"}</dd>
<dt>Changes</dt><dd>${run.counts ? formatCounts(run.counts) : "—"}</dd>
<dt>Drift</dt><dd>${driftFinding(run)}</dd>
${who("Approved by", run.approval)}${who("Change window overridden by", run.override)}
</dl>
${
  run.error
    ? html`<section aria-labelledby="h-error" class="error"><h2 id="h-error">Error</h2><pre tabindex="0">${run.error}</pre>${
        policy ? html`<p><strong>Retry policy:</strong> ${policy}</p>` : ""
      }</section>`
    : ""
}
<section aria-labelledby="h-steps"><h2 id="h-steps">Steps</h2>
${
  steps.length === 0
    ? html`<p>${run.finishedAt ? "No step timings recorded." : "In progress; the timings follow when the run ends."}</p>`
    : html`<ol class="steps">${steps.map(
        (s) =>
          html`<li><span class="step">${s.step}</span> <span class="muted">${duration(s.ms)}</span></li>`,
      )}</ol>`
}</section>
<section aria-labelledby="h-plan"><h2 id="h-plan">Plan</h2>
${planTable(run.plan)}</section>
<section aria-labelledby="h-log"><h2 id="h-log">Log</h2>
<p class="muted">${lines.length > PAGE_LOG_LINES ? `The last ${PAGE_LOG_LINES} of ${lines.length} lines. ` : ""}<a href="${href(view, "runs", run.id, "log")}">Whole log as text</a></p>
<pre class="log" id="run-log" tabindex="0" aria-label="Run log">${shown}</pre></section>`;
  return layout(view, `Run ${run.id.slice(0, 8)}`, body, { target: run.target, run: run.id });
}

/** What a run found about drift; a run that ended before its preview finished checked nothing. */
function driftFinding(run: RunRecord): Html | string {
  if (run.drift)
    return html`<strong class="drift">drift found</strong>: the plan below undoes changes made outside Git`;
  if (run.result === undefined) return "not checked yet";
  return run.counts ? "none found" : "not checked: the run ended before its preview finished";
}
