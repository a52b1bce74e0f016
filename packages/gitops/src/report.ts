// Preview reports for pull requests: a plan as Markdown or JSON.
import type { PlannedStep } from "./engine.js";
import type { RefPreview } from "./reconciler.js";

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
    })),
    typeCheck: preview.typeCheck,
  };
}

/** Inline code that survives backticks and pipes in the text (table cells, list items). */
function code(text: string): string {
  const clean = text.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
  const fence = clean.includes("`") ? "``" : "`";
  return `${fence}${fence.length > 1 ? " " : ""}${clean}${fence.length > 1 ? " " : ""}${fence}`;
}

/**
 * A Markdown summary of a preview, sized for a pull-request comment: a table
 * of counts and the resources each change touches. It starts with an HTML
 * comment marker (`<!-- driftless-preview:<target> -->`) so a bot can find and
 * update its earlier comment instead of adding another.
 */
export function previewMarkdown(preview: RefPreview): string {
  const { counts, steps, changes } = preview.plan;
  const lines = [
    `<!-- driftless-preview:${preview.target} -->`,
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
  ];
  for (const op of OPS) {
    const touched = steps.filter((s) => s.op === op);
    if (touched.length === 0) continue;
    lines.push("", `**${HEADINGS[op]}** (${touched.length})`, "");
    for (const step of touched) {
      const keys = step.keys && step.keys.length > 0 ? ` — changed: ${step.keys.map(code).join(", ")}` : "";
      lines.push(`- ${code(resourceName(step.urn))} ${code(step.type)}${keys}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
