// Preview reports for pull requests: a plan as Markdown or JSON, with property diffs and the gates' verdict.
import type { PlannedStep, PropertyChange } from "../engine/types.js";
import type { PlanVerdict, RefPreview } from "../options.js";

const OPS = ["create", "update", "replace", "delete"] as const;
const HEADINGS: Record<(typeof OPS)[number], string> = {
  create: "To create",
  update: "To update",
  replace: "To replace",
  delete: "To delete",
};

/** One resource of a preview, as the JSON report lists it. */
export interface PreviewReportStep {
  readonly op: PlannedStep["op"];
  /** The resource's name (the last part of its URN). */
  readonly name: string;
  readonly type: string;
  readonly urn: string;
  readonly keys?: readonly string[];
  /** Property-level changes of an update or replace (secrets masked). */
  readonly diffs?: readonly PropertyChange[];
}

/** The machine-readable form of a {@link RefPreview} (`driftless preview --json`). */
export interface PreviewReport {
  readonly target: string;
  readonly ref: string;
  readonly revision: string;
  /** Whether anything would change. */
  readonly changes: boolean;
  readonly counts: RefPreview["plan"]["counts"];
  readonly steps: readonly PreviewReportStep[];
  /** Whether the program was type-checked, and how. */
  readonly typeCheck: RefPreview["typeCheck"];
  /** What the target's gates would do with the plan: refuse it (and why), or hold it for approval. */
  readonly verdict: PlanVerdict;
}

/** The resource name at the end of a URN (`urn:pulumi:dev::site::type::index.html` → `index.html`). */
export function resourceName(urn: string): string {
  return urn.split("::").at(-1) ?? urn;
}

/** The JSON report of a preview. */
export function previewReport(preview: RefPreview): PreviewReport {
  return {
    target: preview.target,
    ref: preview.ref,
    revision: preview.revision,
    changes: preview.plan.changes,
    counts: preview.plan.counts,
    steps: preview.plan.steps.map((s) => ({
      op: s.op,
      name: resourceName(s.urn),
      type: s.type,
      urn: s.urn,
      ...(s.keys && s.keys.length > 0 ? { keys: s.keys } : {}),
      ...(s.diffs && s.diffs.length > 0 ? { diffs: s.diffs } : {}),
    })),
    typeCheck: preview.typeCheck,
    verdict: preview.verdict,
  };
}

/** Inline code that survives backticks and pipes in the text (table cells, list items). */
function code(text: string): string {
  const clean = text.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
  const fence = clean.includes("`") ? "``" : "`";
  return `${fence}${fence.length > 1 ? " " : ""}${clean}${fence.length > 1 ? " " : ""}${fence}`;
}

/** A value as a diff shows it: JSON, inline. */
function shown(value: unknown): string {
  return code(JSON.stringify(value) ?? "undefined");
}

/** One line per changed property: `path`: old → new, and whether it forces a replacement. */
function diffLines(diffs: readonly PropertyChange[]): string[] {
  return diffs.map((d) => {
    const change =
      d.kind === "add"
        ? `added${"new" in d ? ` ${shown(d.new)}` : ""}`
        : d.kind === "delete"
          ? `removed${"old" in d ? ` (was ${shown(d.old)})` : ""}`
          : `${"old" in d ? shown(d.old) : "?"} → ${"new" in d ? shown(d.new) : "?"}`;
    return `  - ${code(d.path)}: ${change}${d.replace ? " (forces replacement)" : ""}`;
  });
}

/** The gates' verdict in words. */
export function verdictText(verdict: PlanVerdict): string {
  if (verdict.refusal)
    return `Safety gates: **would refuse** this plan (${code(verdict.refusal.gate)}): ${verdict.refusal.message}`;
  return verdict.needsApproval
    ? "Safety gates: pass; the plan would wait for approval (`requireApproval`)."
    : "Safety gates: pass.";
}

/** The HTML comment a bot finds its earlier comment on a pull request by. */
export function previewMarker(target: string): string {
  return `<!-- driftless-preview:${target} -->`;
}

/** A pull-request comment for a preview that failed: the error (secrets already redacted). */
export function previewFailureMarkdown(target: string, ref: string, revision: string, error: string): string {
  const fence = "`".repeat(3);
  return [
    previewMarker(target),
    `### Driftless preview of ${code(target)} at ${code(ref)} (${code(revision.slice(0, 12))})`,
    "",
    "The preview **failed**; this revision cannot be applied as it is:",
    "",
    fence,
    error.split(fence).join("` ` `"),
    fence,
    "",
  ].join("\n");
}

/**
 * A Markdown summary of a preview, sized for a pull-request comment: a table
 * of counts, the resources each change touches with their changed properties,
 * and the safety gates' verdict. It starts with an HTML
 * comment marker (`<!-- driftless-preview:<target> -->`) so a bot can find and
 * update its earlier comment instead of adding another.
 */
export function previewMarkdown(preview: RefPreview): string {
  const { counts, steps, changes } = preview.plan;
  const lines = [
    previewMarker(preview.target),
    `### Driftless preview of ${code(preview.target)} at ${code(preview.ref)} (${code(preview.revision.slice(0, 12))})`,
    "",
    changes
      ? "This revision would change the stack."
      : "No changes: the stack already matches this revision.",
    "",
    `Type check: ${preview.typeCheck.checked ? "passed" : "not done"} (${preview.typeCheck.detail}).`,
    "",
    "| Create | Update | Replace | Delete | Unchanged |",
    "| ---: | ---: | ---: | ---: | ---: |",
    `| ${counts.create} | ${counts.update} | ${counts.replace} | ${counts.delete} | ${counts.same} |`,
    "",
    verdictText(preview.verdict),
  ];
  for (const op of OPS) {
    // In URN order, not the engine's (which varies with its parallelism): a comment edited on each push
    // keeps its lines in place.
    const touched = steps
      .filter((s) => s.op === op)
      .sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
    if (touched.length === 0) continue;
    lines.push("", `**${HEADINGS[op]}** (${touched.length})`, "");
    for (const step of touched) {
      const keys = step.keys && step.keys.length > 0 ? ` — changed: ${step.keys.map(code).join(", ")}` : "";
      lines.push(`- ${code(resourceName(step.urn))} ${code(step.type)}${keys}`);
      if (step.diffs) lines.push(...diffLines(step.diffs));
    }
  }
  return `${lines.join("\n")}\n`;
}
