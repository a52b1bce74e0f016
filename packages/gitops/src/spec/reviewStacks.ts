/**
 * Review stacks' configuration: the `reviewStacks` field of a target, the
 * stack-name template (`{number}`, `{branch}`) and the safety check that no
 * template can name the target's own stack. The target a review stack runs
 * as is derived in `pipelines/reviewStacks.ts`.
 */
import type { Duration } from "./duration.js";

/** A live environment per pull request: a stack of its own, applied on every push, destroyed on close. */
export interface ReviewStackOptions {
  /**
   * The review stack's name: `{number}` (required, so each pull request gets its own stack) and
   * `{branch}` (the head branch, lowercased, other characters than `a-z0-9-` replaced by `-`)
   * are substituted. A template that could name the target's own stack is refused.
   * @example "pr-{number}"
   */
  readonly stack: string;
  /**
   * Config merged over the target's `config` (these win), with `{number}` and `{branch}`
   * substituted in its string values, e.g. `{ "app:namespace": "shop-pr-{number}" }`.
   * @default {}
   */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Destroy a review stack this long after the last push to its pull request, with a comment
   * saying so (a new push creates it again).
   * @default - review stacks live until their pull request closes
   */
  readonly ttl?: Duration;
  /** Review stacks of this target alive at once; further pull requests wait, served in order. @default 5 */
  readonly maxConcurrent?: number;
  /**
   * Paths, relative to the repository root, whose changes give a pull request a review stack.
   * @default - the target's `path` and `watchPaths`
   */
  readonly paths?: readonly string[];
}

/** {@link ReviewStackOptions} with defaults resolved. */
export interface ResolvedReviewStacks {
  readonly stack: string;
  readonly config: Readonly<Record<string, string>>;
  readonly ttlMs: number | undefined;
  readonly maxConcurrent: number;
  readonly paths: readonly string[] | undefined;
}

/** What a review stack's target derives from: its base target and pull request. */
export interface ReviewOf {
  /** The base target's name. */
  readonly target: string;
  /** The pull request's number. */
  readonly number: number;
  /** The pull request's head branch. */
  readonly branch: string;
}

const PLACEHOLDER = /\{([^}]*)\}/g;

/** Problems of a stack template against the base stack's name, as messages (empty when fine). */
export function templateIssues(template: string, baseStack: string): string[] {
  const unknown = [...template.matchAll(PLACEHOLDER)]
    .map((m) => m[1])
    .filter((name) => name !== "number" && name !== "branch");
  if (unknown.length > 0) {
    return [
      `has unknown placeholder(s) ${unknown.map((u) => `{${u}}`).join(", ")} (known: {number}, {branch})`,
    ];
  }
  if (!template.includes("{number}")) {
    return [`"${template}" must contain {number}, so each pull request gets a stack of its own`];
  }
  const pattern = template
    .split(/(\{number\}|\{branch\})/)
    .map((part) =>
      part === "{number}"
        ? "[0-9]+"
        : part === "{branch}"
          ? "[a-z0-9-]+"
          : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  if (new RegExp(`^${pattern}$`).test(baseStack)) {
    return [
      `"${template}" could name the target's own stack "${baseStack}"; a review stack must never be the base stack`,
    ];
  }
  return [];
}

/** A branch name as `{branch}` gives it: lowercase, runs of other characters than `a-z0-9-` as `-`. */
export function branchSlug(branch: string): string {
  const slug = branch
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return slug || "branch";
}

/** `{number}` and `{branch}` substituted in a template. */
export function substitute(template: string, number: number, branch: string): string {
  return template.replaceAll("{number}", String(number)).replaceAll("{branch}", branchSlug(branch));
}
