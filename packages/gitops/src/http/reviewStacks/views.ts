/**
 * How review stacks are shown: the one comment each keeps on its pull request
 * (edited in place as its state changes) and its view under its target in `GET /targets`.
 */
import { pullRequestUrl, reviewTargetName } from "../../pipelines/reviewStacks.js";
import type { ResolvedTarget } from "../../spec/spec.js";
import type { ReviewStackRecord, TargetStatus } from "../../store/store.js";

/** The marker that finds a target's review stack comment on a pull request. */
export const reviewMarker = (target: string): string => `<!-- driftless-review-stack:${target} -->`;

const STATE_WORDS: Record<string, string> = {
  waiting: "⏳ waiting",
  applying: "🔄 applying",
  applied: "✅ applied",
  failed: "❌ failed",
  destroying: "🧹 destroying",
  stalled: "⚠️ Stalled (destroy failed, retrying)",
  destroyed: "🗑️ destroyed",
};

/** A value as a table cell: URLs as links, other values as code, pipes escaped. */
function cell(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (typeof value === "string" && /^https?:\/\/[^\s<>()|]+$/.test(value)) return `[${value}](${value})`;
  return `\`${String(text).replaceAll("|", "\\|").replaceAll("`", "'")}\``;
}

/**
 * The comment's body: the stack's state, its head and, once applied, its
 * outputs (as the status stores them, secrets masked; URLs as links).
 */
export function reviewComment(
  record: Pick<ReviewStackRecord, "target" | "stack" | "headSha" | "error"> & { readonly state: string },
  options: { readonly outputs?: Readonly<Record<string, unknown>>; readonly note?: string } = {},
): string {
  const lines = [
    reviewMarker(record.target),
    `### Review stack \`${record.stack}\` of \`${record.target}\`: ${STATE_WORDS[record.state] ?? record.state}`,
    "",
    `Head \`${record.headSha.slice(0, 12)}\``,
  ];
  if (options.note) lines.push("", options.note);
  if (record.error && (record.state === "failed" || record.state === "stalled")) {
    lines.push("", "```", record.error.slice(0, 2000), "```");
  }
  const outputs = Object.entries(options.outputs ?? {});
  if (outputs.length > 0) {
    lines.push("", "| Output | Value |", "| --- | --- |");
    for (const [name, value] of outputs) lines.push(`| \`${name}\` | ${cell(value)} |`);
  }
  return lines.join("\n");
}

/** A review stack as `GET /targets` shows it under its target. */
export interface ReviewStackView extends ReviewStackRecord {
  /** The target its runs go by (`<target>-pr-<number>`); its runs and logs are read under this name. */
  readonly name: string;
  /** The pull request's web page. */
  readonly pullRequestUrl?: string;
  /** The review stack target's status; absent while it waits. */
  readonly status?: TargetStatus;
}

/** The review stacks of a target, oldest first, with their status and pull request link. */
export function reviewStackViews(
  target: ResolvedTarget,
  records: readonly ReviewStackRecord[],
  statuses: ReadonlyMap<string, TargetStatus>,
): ReviewStackView[] {
  return records
    .filter((r) => r.target === target.name)
    .map((r) => {
      const name = reviewTargetName(r.target, r.number);
      const url = pullRequestUrl(target.repo, r.number);
      const status = statuses.get(name);
      return { ...r, name, ...(url ? { pullRequestUrl: url } : {}), ...(status ? { status } : {}) };
    });
}
