/**
 * The target a pull request's review stack runs as: the base target with the
 * review stack's name, the pull request's head ref and the merged config, so
 * its runs go through the same steps, gates, locks, logs and history as any
 * target's.
 */
import { DriftlessError } from "../errors.js";
import type { ReviewOf } from "../spec/reviewStacks.js";
import { substitute } from "../spec/reviewStacks.js";
import { publicRepoUrl } from "../spec/secrets.js";
import type { ResolvedTarget } from "../spec/spec.js";

/** The name of the target a pull request's review stack runs as. */
export function reviewTargetName(base: string, number: number): string {
  return `${base}-pr-${number}`;
}

/** The pull request a review stack is for: its number, head branch and, once recorded, its stack. */
export interface ReviewPull {
  readonly number: number;
  readonly branch: string;
  readonly stack?: string;
}

/**
 * The target a pull request's review stack runs as: the base target with the
 * review stack's name, the pull request's head ref, the merged config, mode
 * `apply`, destroyed on removal, and no dependencies or promotion of its own.
 * A recorded review stack (`pull.stack`, see `ReviewStackRecord.stack`) keeps
 * the stack it was created as, even when the base target has no
 * `reviewStacks` any more: it can still be destroyed (with the base's config
 * then; a destroy runs no program).
 * @throws DriftlessError when the base target has no `reviewStacks` and no stack is recorded, or the name would be the base stack's
 */
export function reviewTarget(
  base: ResolvedTarget,
  pull: ReviewPull,
): ResolvedTarget & { readonly review: ReviewOf } {
  const options = base.reviewStacks;
  if (!options && pull.stack === undefined) {
    throw new DriftlessError(`target "${base.name}" has no \`reviewStacks\``);
  }
  const stack = pull.stack ?? substitute(options?.stack ?? "", pull.number, pull.branch);
  // The template check makes this impossible for a new one; kept as the last line of defence (and for records).
  if (stack === base.stack) {
    throw new DriftlessError(
      `review stack "${stack}" of target "${base.name}" would be the target's own stack`,
    );
  }
  const config = { ...base.config };
  for (const [key, value] of Object.entries(options?.config ?? {})) {
    config[key] = substitute(value, pull.number, pull.branch);
  }
  return {
    ...base,
    name: reviewTargetName(base.name, pull.number),
    ref: `refs/pull/${pull.number}/head`,
    stack,
    config,
    mode: "apply",
    destroyOnRemove: true,
    dependsOn: [],
    promote: undefined,
    reviewStacks: undefined,
    review: { target: base.name, number: pull.number, branch: pull.branch },
  };
}

/**
 * A pull request's web page from its repository's URL: `/pull/<n>` on
 * GitHub, `/pulls/<n>` elsewhere (Gitea, Forgejo); `undefined` for a
 * repository not served over HTTP(S).
 */
export function pullRequestUrl(repo: string, number: number): string | undefined {
  const web = publicRepoUrl(repo)
    .replace(/\.git$/, "")
    .replace(/\/+$/, "");
  if (!/^https?:\/\//.test(web)) return undefined;
  return `${web}/${new URL(web).hostname === "github.com" ? "pull" : "pulls"}/${number}`;
}
