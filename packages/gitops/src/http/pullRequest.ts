// Pull request events from GitHub and Gitea (which sends GitHub's event name and payload shape).

/** A pull request event, whichever host reported it. */
export interface PullRequestEvent {
  /** `opened`, `synchronize` (Gitea: `synchronized`), `reopened`, `closed`, or another action (ignored). */
  readonly action: string;
  readonly number: number;
  /** Every URL the payload gives for the base repository (clone, SSH, web). */
  readonly repoUrls: readonly string[];
  /** The branch the pull request merges into, e.g. `main`. */
  readonly baseRef: string;
  readonly baseSha?: string;
  /** The head commit to preview. */
  readonly headSha: string;
  /** The head branch, e.g. `feature/login` (review stacks substitute it for `{branch}`). */
  readonly headRef?: string;
  /** The head comes from another repository (a fork). */
  readonly fork: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const strings = (...values: unknown[]): string[] =>
  values.filter((v): v is string => typeof v === "string" && v !== "");

/**
 * Reads a `pull_request` payload of GitHub or Gitea. @returns the event, or a
 * message saying what is missing.
 */
export function githubPullRequest(payload: unknown): PullRequestEvent | string {
  if (!isObject(payload) || typeof payload.action !== "string")
    return "a pull_request payload needs an `action`";
  const pr = isObject(payload.pull_request) ? payload.pull_request : undefined;
  const number = pr?.number ?? payload.number;
  if (!pr || typeof number !== "number") return "a pull_request payload needs `pull_request.number`";
  const base = isObject(pr.base) ? pr.base : {};
  const head = isObject(pr.head) ? pr.head : {};
  if (typeof base.ref !== "string" || typeof head.sha !== "string") {
    return "a pull_request payload needs `pull_request.base.ref` and `pull_request.head.sha`";
  }
  const baseRepo = isObject(base.repo) ? base.repo : isObject(payload.repository) ? payload.repository : {};
  const headRepo = isObject(head.repo) ? head.repo : undefined;
  const repoUrls = strings(baseRepo.clone_url, baseRepo.ssh_url, baseRepo.html_url, baseRepo.url);
  if (repoUrls.length === 0) return "a pull_request payload needs `pull_request.base.repo.clone_url`";
  // A head repository that is gone (a deleted fork) counts as a fork.
  const fork =
    headRepo === undefined ||
    (typeof headRepo.full_name === "string" &&
      typeof baseRepo.full_name === "string" &&
      headRepo.full_name !== baseRepo.full_name);
  return {
    action: payload.action,
    number,
    repoUrls,
    baseRef: base.ref,
    ...(typeof base.sha === "string" ? { baseSha: base.sha } : {}),
    headSha: head.sha,
    ...(typeof head.ref === "string" ? { headRef: head.ref } : {}),
    fork,
  };
}
