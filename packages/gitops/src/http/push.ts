// Push events from GitHub, GitLab and the generic webhook, and which targets a push concerns.
import { pathMatches, refMatches } from "../git/match.js";
import { repoIdentity as normalizeRepoUrl } from "../git/repo.js";
import type { ResolvedTarget } from "../spec/spec.js";

/** A push, whichever provider reported it. */
export interface PushEvent {
  /** Every URL the payload gives for the repository (clone, SSH, web). */
  readonly repoUrls: readonly string[];
  /** The full ref pushed, e.g. `refs/heads/main`. */
  readonly ref: string;
  /**
   * Files added, modified or removed, relative to the repository root;
   * `undefined` when the sender could not list them all, so every path matches.
   */
  readonly paths?: readonly string[];
  /** The push deleted the ref; nothing to reconcile. */
  readonly deleted: boolean;
  /**
   * The commit the payload says the ref now points at (a full SHA), when it
   * names one. Unverified: a run fetches the ref and applies only its tip.
   */
  readonly after?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const strings = (...values: unknown[]): string[] =>
  values.filter((v): v is string => typeof v === "string" && v !== "");
/** `{ after }` for a full, non-zero commit SHA, else nothing. */
const afterOf = (value: unknown): { after?: string } =>
  typeof value === "string" && /^[0-9a-f]{40}$/.test(value) && !/^0+$/.test(value) ? { after: value } : {};

/** The changed files of a list of commits, or `undefined` if any commit lacks the lists. */
function changedPaths(commits: unknown): string[] | undefined {
  if (!Array.isArray(commits) || commits.length === 0) return undefined;
  const paths = new Set<string>();
  for (const commit of commits) {
    if (!isObject(commit)) return undefined;
    const lists = [commit.added, commit.modified, commit.removed];
    if (!lists.every(Array.isArray)) return undefined;
    for (const path of lists.flat()) if (typeof path === "string") paths.add(path);
  }
  return [...paths];
}

/**
 * Reads a GitHub `push` payload. A push without commit lists (a new branch,
 * a force push to an older commit) cannot say what changed, so it matches
 * every path. @returns the push, or a message saying what is missing.
 */
export function githubPush(payload: unknown): PushEvent | string {
  if (!isObject(payload) || typeof payload.ref !== "string") return "a push payload needs a `ref`";
  const repo = isObject(payload.repository) ? payload.repository : {};
  const repoUrls = strings(repo.clone_url, repo.ssh_url, repo.git_url, repo.html_url, repo.url, repo.svn_url);
  if (repoUrls.length === 0) return "a push payload needs `repository.clone_url`";
  const paths = changedPaths(payload.commits);
  return {
    repoUrls,
    ref: payload.ref,
    ...(paths ? { paths } : {}),
    deleted: payload.deleted === true,
    ...afterOf(payload.after),
  };
}

/**
 * Reads a GitLab `Push Hook` or `Tag Push Hook` payload. GitLab lists at most
 * 20 commits; when `total_commits_count` says more were pushed, every path matches.
 */
export function gitlabPush(payload: unknown): PushEvent | string {
  if (!isObject(payload) || typeof payload.ref !== "string") return "a push payload needs a `ref`";
  const project = isObject(payload.project) ? payload.project : {};
  const repository = isObject(payload.repository) ? payload.repository : {};
  const repoUrls = strings(
    project.git_http_url,
    project.git_ssh_url,
    project.web_url,
    repository.git_http_url,
    repository.git_ssh_url,
    repository.url,
    repository.homepage,
  );
  if (repoUrls.length === 0) return "a push payload needs `project.git_http_url`";
  const commits = Array.isArray(payload.commits) ? payload.commits : [];
  const complete =
    typeof payload.total_commits_count !== "number" || payload.total_commits_count <= commits.length;
  const paths = complete ? changedPaths(commits) : undefined;
  const deleted = typeof payload.after === "string" && /^0+$/.test(payload.after);
  return { repoUrls, ref: payload.ref, ...(paths ? { paths } : {}), deleted, ...afterOf(payload.after) };
}

/**
 * Reads the generic webhook body: `{ "repository": url, "ref": "main" | "refs/heads/main",
 * "paths"?: [changed files], "after"?: commit SHA }`. Without `paths`, every path matches.
 */
export function genericPush(payload: unknown): PushEvent | string {
  if (!isObject(payload)) return "the body must be a JSON object";
  if (typeof payload.repository !== "string" || payload.repository === "")
    return "`repository` must be a URL";
  if (typeof payload.ref !== "string" || payload.ref === "") return "`ref` must be a branch or ref name";
  if (
    payload.paths !== undefined &&
    !(Array.isArray(payload.paths) && payload.paths.every((p) => typeof p === "string"))
  ) {
    return "`paths` must be a list of file paths";
  }
  const ref = payload.ref.startsWith("refs/") ? payload.ref : `refs/heads/${payload.ref}`;
  return {
    repoUrls: [payload.repository],
    ref,
    ...(payload.paths ? { paths: payload.paths as string[] } : {}),
    deleted: false,
    ...afterOf(payload.after),
  };
}

/** The targets a push concerns: same repository, same ref, and a changed file under their path or `watchPaths`. */
export function matchTargets(targets: readonly ResolvedTarget[], push: PushEvent): ResolvedTarget[] {
  if (push.deleted) return [];
  const urls = new Set(push.repoUrls.map(normalizeRepoUrl));
  return targets.filter(
    (t) =>
      urls.has(normalizeRepoUrl(t.repo)) &&
      refMatches(t.ref, push.ref) &&
      [t.path, ...(t.watchPaths ?? [])].some((path) => pathMatches(path, push.paths)),
  );
}
