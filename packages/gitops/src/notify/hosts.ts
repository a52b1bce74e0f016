/**
 * Git hosts that show results where code is reviewed: commit statuses
 * (`driftless/<target>`) and one comment per pull request and target, found
 * again by its marker and edited in place. GitHub through `@octokit/rest`
 * (`baseUrl` for GitHub Enterprise), Gitea through its API v1.
 */
import type { Octokit } from "@octokit/rest";
import { repoIdentity } from "../git/repo.js";
import { readSecret } from "../spec/secrets.js";
import type { SecretSource } from "../spec/spec.js";
import { DeliveryError, expectOk } from "./deliveries.js";

/** A repository on a Git host. */
export interface HostRepo {
  readonly owner: string;
  readonly name: string;
}

/** State of a commit status, as GitHub and Gitea name them. */
export type CommitState = "pending" | "success" | "failure" | "error";

/** One commit status. */
export interface CommitStatus {
  readonly state: CommitState;
  /** `driftless/<target>`. */
  readonly context: string;
  /** Short text (cut to 140 characters, GitHub's limit). */
  readonly description: string;
  /** A link to details, when the service has a public URL. */
  readonly targetUrl?: string;
}

/** A Git host's API as Driftless uses it. */
export interface GitHost {
  /** Provider name, for metrics and logs (`github`, `gitea`). */
  readonly kind: string;
  /** The repository a clone URL names on this host, or `undefined` when the host does not serve it. */
  repoOf(repoUrl: string): HostRepo | undefined;
  setStatus(repo: HostRepo, sha: string, status: CommitStatus, signal: AbortSignal): Promise<void>;
  /** Edits the pull request's comment that contains `marker`, or adds one. */
  upsertComment(
    repo: HostRepo,
    pull: number,
    marker: string,
    body: string,
    signal: AbortSignal,
  ): Promise<void>;
  /** Whether a pull request is still open; `undefined` when the host does not say (review stacks ask at start). */
  pullRequestOpen?(repo: HostRepo, pull: number, signal: AbortSignal): Promise<boolean | undefined>;
}

/** The `owner/name` of a repository URL under a host's web URL, or `undefined` when elsewhere. */
export function repoUnder(webUrl: string, repoUrl: string): HostRepo | undefined {
  const base = repoIdentity(webUrl).replace(/\/+$/, "");
  const repo = repoIdentity(repoUrl);
  if (!repo.startsWith(`${base}/`)) return undefined;
  const parts = repo.slice(base.length + 1).split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { owner: parts[0], name: parts[1] };
}

const description = (text: string): string => (text.length > 140 ? `${text.slice(0, 139)}…` : text);

/** Options of {@link GitHubHost}. */
export interface GitHubHostOptions {
  /** A token with `repo:status` and `pull_requests: write` (fine-grained: Commit statuses and Pull requests, read and write). */
  readonly token: SecretSource;
  /** API base URL. @default "https://api.github.com" */
  readonly baseUrl?: string;
  /** Web URL repositories are cloned from. @default "https://github.com", or the origin of `baseUrl` */
  readonly webUrl?: string;
}

/** GitHub (or GitHub Enterprise) through `@octokit/rest`. */
export class GitHubHost implements GitHost {
  readonly kind = "github";
  readonly #options: GitHubHostOptions;
  readonly #webUrl: string;

  constructor(options: GitHubHostOptions) {
    this.#options = options;
    this.#webUrl =
      options.webUrl ?? (options.baseUrl ? new URL(options.baseUrl).origin : "https://github.com");
  }

  repoOf(repoUrl: string): HostRepo | undefined {
    return repoUnder(this.#webUrl, repoUrl);
  }

  /** `@octokit/rest` is loaded at the first delivery to GitHub, not with the package. */
  async #client(signal: AbortSignal): Promise<Octokit> {
    const { Octokit } = await import("@octokit/rest");
    return new Octokit({
      auth: readSecret(this.#options.token, "notify.github.token"),
      ...(this.#options.baseUrl ? { baseUrl: this.#options.baseUrl } : {}),
      userAgent: "driftless",
      request: { signal, retries: 0 },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
  }

  async setStatus(repo: HostRepo, sha: string, status: CommitStatus, signal: AbortSignal): Promise<void> {
    await octokitCall("commit status", async () =>
      (await this.#client(signal)).rest.repos.createCommitStatus({
        owner: repo.owner,
        repo: repo.name,
        sha,
        state: status.state,
        context: status.context,
        description: description(status.description),
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      }),
    );
  }

  async upsertComment(
    repo: HostRepo,
    pull: number,
    marker: string,
    body: string,
    signal: AbortSignal,
  ): Promise<void> {
    const client = await this.#client(signal);
    const comments = await octokitCall("list comments", () =>
      client.paginate(client.rest.issues.listComments, {
        owner: repo.owner,
        repo: repo.name,
        issue_number: pull,
        per_page: 100,
      }),
    );
    const mine = comments.find((c) => c.body?.includes(marker));
    if (mine) {
      await octokitCall("edit comment", () =>
        client.rest.issues.updateComment({ owner: repo.owner, repo: repo.name, comment_id: mine.id, body }),
      );
    } else {
      await octokitCall("add comment", () =>
        client.rest.issues.createComment({ owner: repo.owner, repo: repo.name, issue_number: pull, body }),
      );
    }
  }

  async pullRequestOpen(repo: HostRepo, pull: number, signal: AbortSignal): Promise<boolean | undefined> {
    const client = await this.#client(signal);
    const { data } = await octokitCall("read pull request", () =>
      client.rest.pulls.get({ owner: repo.owner, repo: repo.name, pull_number: pull }),
    );
    return data.state === "open";
  }
}

/** Maps Octokit's errors to {@link DeliveryError} (5xx and 429 retryable). */
async function octokitCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (typeof status !== "number" || status === 0) throw error;
    throw new DeliveryError(`${what}: HTTP ${status}`, status >= 500 || status === 429);
  }
}

/** Options of {@link GiteaHost}. */
export interface GiteaHostOptions {
  /** The Gitea server's base URL, e.g. `https://gitea.example.com`. */
  readonly url: string;
  /** An access token with the `write:repository` and `write:issue` scopes. */
  readonly token: SecretSource;
}

/** Gitea (and Forgejo) through API v1. */
export class GiteaHost implements GitHost {
  readonly kind = "gitea";
  readonly #options: GiteaHostOptions;
  readonly #api: string;

  constructor(options: GiteaHostOptions) {
    this.#options = options;
    this.#api = `${options.url.replace(/\/+$/, "")}/api/v1`;
  }

  repoOf(repoUrl: string): HostRepo | undefined {
    return repoUnder(this.#options.url, repoUrl);
  }

  async #call(method: string, path: string, signal: AbortSignal, body?: unknown): Promise<Response> {
    const response = await fetch(`${this.#api}${path}`, {
      method,
      signal,
      headers: {
        authorization: `token ${readSecret(this.#options.token, "notify.gitea.token")}`,
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return expectOk(response, `${method} ${path.replace(/\?.*$/, "")}`);
  }

  async setStatus(repo: HostRepo, sha: string, status: CommitStatus, signal: AbortSignal): Promise<void> {
    await this.#call("POST", `/repos/${path(repo)}/statuses/${sha}`, signal, {
      state: status.state,
      context: status.context,
      description: description(status.description),
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
    });
  }

  async upsertComment(
    repo: HostRepo,
    pull: number,
    marker: string,
    body: string,
    signal: AbortSignal,
  ): Promise<void> {
    let mine: { id: number } | undefined;
    for (let page = 1; !mine; page++) {
      const response = await this.#call(
        "GET",
        `/repos/${path(repo)}/issues/${pull}/comments?page=${page}&limit=50`,
        signal,
      );
      const comments = (await response.json()) as { id: number; body?: string }[];
      mine = comments.find((c) => c.body?.includes(marker));
      if (comments.length < 50) break;
    }
    if (mine) await this.#call("PATCH", `/repos/${path(repo)}/issues/comments/${mine.id}`, signal, { body });
    else await this.#call("POST", `/repos/${path(repo)}/issues/${pull}/comments`, signal, { body });
  }

  async pullRequestOpen(repo: HostRepo, pull: number, signal: AbortSignal): Promise<boolean | undefined> {
    const response = await this.#call("GET", `/repos/${path(repo)}/pulls/${pull}`, signal);
    return ((await response.json()) as { state?: string }).state === "open";
  }
}

const path = (repo: HostRepo): string => `${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
