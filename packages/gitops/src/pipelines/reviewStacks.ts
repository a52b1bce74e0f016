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

/**
 * The target a pull request's review stack runs as: the base target with the
 * review stack's name, the pull request's head ref, the merged config, mode
 * `apply`, destroyed on removal, and no dependencies or promotion of its own.
 * @throws DriftlessError when the base target has no `reviewStacks` or the name would be the base stack's
 */
export function reviewTarget(
  base: ResolvedTarget,
  pull: { readonly number: number; readonly branch: string },
): ResolvedTarget & { readonly review: ReviewOf } {
  const options = base.reviewStacks;
  if (!options) throw new DriftlessError(`target "${base.name}" has no \`reviewStacks\``);
  const stack = substitute(options.stack, pull.number, pull.branch);
  // The template check makes this impossible; kept as the last line of defence.
  if (stack === base.stack) {
    throw new DriftlessError(
      `review stack "${stack}" of target "${base.name}" would be the target's own stack`,
    );
  }
  const config = { ...base.config };
  for (const [key, value] of Object.entries(options.config)) {
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
