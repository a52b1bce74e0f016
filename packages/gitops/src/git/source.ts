// Where revisions come from: the `Source` interface and `GitSource` (bare mirrors, worktrees, tokens kept out of argv and disk).
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { RetryableError, StalledError } from "../errors.js";
import { publicRepoUrl } from "../spec/secrets.js";
import type { GitAuth } from "../spec/spec.js";
import { isFullSha, sha256 } from "../util.js";
import { authHeader, gitEnv } from "./env.js";
import { GitExitError, runGit } from "./gitProcess.js";
import { listHttpRefs, RefListingError, type RefMap, readLocalRefs } from "./refs.js";
import { repoIdentity } from "./repo.js";
import { SshKeyFiles } from "./sshKeys.js";

/** Where a target's source lives: the remote, the ref to follow and how to authenticate. */
export interface SourceRef {
  readonly repo: string;
  readonly ref: string;
  readonly auth?: GitAuth;
}

/** Git operations the reconciler needs; {@link GitSource} is the default, over the system git. */
export interface Source {
  /**
   * Resolves the ref to a commit SHA with one round trip to the remote (no objects fetched).
   * With `maxAgeMs`, an answer for the same repository and ref that is at most that old
   * (or still in flight) is reused: many targets on one repository cost one lookup.
   */
  resolve(source: SourceRef, options?: { readonly maxAgeMs?: number }): Promise<string>;
  /**
   * Makes `revision` present in the local mirror and checks it out into `dir`.
   * With `previous`, refuses a revision that does not descend from it (a force-pushed ref).
   */
  checkout(source: SourceRef, revision: string, dir: string, previous?: string): Promise<void>;
  /**
   * Like {@link checkout} for the commit a push payload names, which nobody
   * vouches for: the ref is fetched from the remote, and its tip is checked
   * out — the pushed commit when the ref points at it (the usual case), the
   * ref's real tip when it does not (a later push, or a payload naming a
   * commit that is not on the ref). Resolves the revision checked out.
   */
  checkoutPushed?(source: SourceRef, pushed: string, dir: string, previous?: string): Promise<string>;
  /**
   * Files changed between two revisions (`to` is fetched when missing);
   * `undefined` when that cannot be told.
   */
  changedFiles(source: SourceRef, from: string, to: string): Promise<string[] | undefined>;
  /**
   * Whether `ancestor` is `descendant` or in its history (`descendant` is
   * fetched when missing); `undefined` when that cannot be told.
   */
  isAncestor?(source: SourceRef, ancestor: string, descendant: string): Promise<boolean | undefined>;
  /**
   * Whether two commits hold the same tree at each of `paths` (directories
   * or files relative to the repository root, `.` the whole of it; a path
   * neither holds counts as the same). `to` is fetched when missing;
   * `undefined` when that cannot be told.
   */
  sameTree?(
    source: SourceRef,
    from: string,
    to: string,
    paths: readonly string[],
  ): Promise<boolean | undefined>;
  /**
   * The subject line of a commit already fetched (no round trip to the
   * remote); `undefined` when it is not known locally.
   */
  commitSubject?(source: SourceRef, revision: string): Promise<string | undefined>;
  /**
   * The author's and committer's email addresses of a commit already fetched
   * (four-eyes approvals compare them with the approver's); `undefined` when
   * it is not known locally.
   */
  commitEmails?(source: SourceRef, revision: string): Promise<readonly string[] | undefined>;
}

/** The git commands that reach the remote, and so may run ssh. */
const REMOTE_COMMANDS: ReadonlySet<string> = new Set(["fetch", "ls-remote"]);

/**
 * One bare mirror per repository under `<dataDir>/git`, fetched one ref at a
 * time, and a worktree per target. Tokens reach git through its environment
 * (`GIT_CONFIG_*`), never its arguments, config files or logs; an SSH key
 * from a secret source (`auth.sshKey`) is written for ssh alone, under
 * `<dataDir>/ssh`, only while a command that reaches the remote runs; keys
 * a killed process left there are removed before the first is written.
 */
export class GitSource implements Source {
  readonly #mirrors: string;
  readonly #sshKeys: SshKeyFiles;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #resolved = new Map<string, { readonly at: number; readonly sha: Promise<string> }>();
  /** Remote round trips made, for the no-op benchmark and tests. */
  remoteCalls = 0;

  readonly #directRefs: boolean;

  /**
   * @param options.dataDir where mirrors live (`<dataDir>/git`).
   * @param options.directRefs read refs of `file://` and smart-HTTP remotes
   *   without starting git where that gives git's answer. @default true
   */
  constructor(options: { readonly dataDir: string; readonly directRefs?: boolean }) {
    this.#mirrors = resolve(options.dataDir, "git");
    this.#sshKeys = new SshKeyFiles(resolve(options.dataDir, "ssh"));
    this.#directRefs = options.directRefs ?? true;
  }

  async resolve(source: SourceRef, options: { readonly maxAgeMs?: number } = {}): Promise<string> {
    if (isFullSha(source.ref)) return source.ref;
    const key = `${repoIdentity(source.repo)}\0${source.ref}`;
    const cached = this.#resolved.get(key);
    const maxAge = options.maxAgeMs ?? 0;
    if (cached && maxAge > 0 && Date.now() - cached.at <= maxAge) return cached.sha;
    const sha = this.#lsRemote(source);
    this.#resolved.set(key, { at: Date.now(), sha });
    sha.catch(() => {
      if (this.#resolved.get(key)?.sha === sha) this.#resolved.delete(key);
    });
    return sha;
  }

  async #lsRemote(source: SourceRef): Promise<string> {
    // The peeled entry (`^{}`) of an annotated tag names its commit; the bare one
    // names the tag object. ls-remote lists a peeled entry only when asked for it.
    const candidates = source.ref.startsWith("refs/")
      ? [`${source.ref}^{}`, source.ref]
      : [`refs/heads/${source.ref}`, `refs/tags/${source.ref}^{}`, `refs/tags/${source.ref}`];
    this.remoteCalls++;
    const refs = (await this.#readRefs(source, candidates)) ?? (await this.#gitLsRemote(source, candidates));
    for (const candidate of candidates) {
      const sha = refs.get(candidate);
      if (sha) return sha;
    }
    throw new StalledError(
      "SourceRefMissing",
      `ref "${source.ref}" does not exist in ${publicRepoUrl(source.repo)} (deleted, or never pushed); nothing was applied`,
    );
  }

  /** Refs read without a git process (local files, one HTTP request); `undefined` asks git. */
  async #readRefs(source: SourceRef, candidates: readonly string[]): Promise<RefMap | undefined> {
    if (!this.#directRefs) return undefined;
    const local = readLocalRefs(source.repo, candidates);
    if (local) return local;
    try {
      return await listHttpRefs(source.repo, {
        authorization: authHeader(source.auth),
        env: gitEnv(undefined),
      });
    } catch (error) {
      if (!(error instanceof RefListingError)) throw error;
      throw new RetryableError(`cannot reach ${publicRepoUrl(source.repo)}: ${error.message}`, 0, {
        cause: error,
      });
    }
  }

  async #gitLsRemote(source: SourceRef, candidates: readonly string[]): Promise<RefMap> {
    // Protocol v0 lists refs in a single request; v2 needs two over HTTP.
    const git = this.#git(source, process.cwd(), { "protocol.version": "0" });
    let listing: string;
    try {
      listing = await git.raw(["ls-remote", "--", source.repo, ...candidates]);
    } catch (error) {
      throw new RetryableError(`cannot reach ${publicRepoUrl(source.repo)}: ${gitMessage(error)}`, 0, {
        cause: error,
      });
    }
    return new Map(
      listing
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [sha, name] = line.split("\t");
          return [name as string, sha as string] as const;
        }),
    );
  }

  async checkout(source: SourceRef, revision: string, dir: string, previous?: string): Promise<void> {
    const mirror = await this.#ensureMirror(source, revision);
    await this.#moveWorktree(source, mirror, revision, dir, previous);
  }

  async checkoutPushed(source: SourceRef, pushed: string, dir: string, previous?: string): Promise<string> {
    if (isFullSha(source.ref)) {
      await this.checkout(source, source.ref, dir, previous);
      return source.ref;
    }
    const dirOf = this.#mirrorDir(source.repo);
    const { mirror, fetched } = await this.#exclusive(dirOf, async () => {
      const mirror = await this.#initMirror(source);
      return { mirror, fetched: await this.#fetchRef(source, mirror, previous) };
    });
    const { tip } = fetched;
    // The fetched ref decides, never the payload: only the ref's own tip is applied.
    const revision = tip === pushed || tip === undefined ? pushed : tip;
    if (tip === undefined && !(await this.#present(source, mirror, pushed))) {
      throw new RetryableError(`revision ${pushed.slice(0, 12)} is not on ${source.ref}`);
    }
    // A fetch that had to fast-forward from `previous` proved the descent already.
    const checkFrom = fetched.fastForwardFrom === previous && tip === revision ? undefined : previous;
    await this.#moveWorktree(source, mirror, revision, dir, checkFrom);
    return revision;
  }

  /** Moves a target's worktree to `revision`, refusing one that does not descend from `previous`. */
  async #moveWorktree(
    source: SourceRef,
    mirror: string,
    revision: string,
    dir: string,
    previous: string | undefined,
  ): Promise<void> {
    const git = this.#git(source, mirror);
    if (previous && previous !== revision) {
      // 0: descends; 1: does not; anything else: `previous` is not known here (left unchecked).
      const descends = await git.raw(["merge-base", "--is-ancestor", previous, revision]).then(
        () => true,
        (error: unknown) => (error instanceof GitExitError && error.exitCode === 1 ? false : undefined),
      );
      if (descends === false) {
        throw new StalledError(
          "SourceRefRewritten",
          `ref "${source.ref}" moved from ${previous.slice(0, 12)} to ${revision.slice(0, 12)}, which does not descend from it ` +
            "(force-push or reset); nothing was applied. Push a new commit, or approve the revision to apply it anyway",
        );
      }
    }
    if (!existsSync(join(dir, ".git"))) {
      mkdirSync(dir, { recursive: true });
      // One at a time per mirror: a prune must not meet another worktree being added.
      await this.#exclusive(mirror, async () => {
        await git.raw(["worktree", "prune"]);
        await git.raw(["worktree", "add", "--force", "--detach", dir, revision]);
      });
      return;
    }
    const work = this.#git(source, dir);
    await work.raw(["checkout", "--force", "--detach", revision]);
    // Keep installed dependencies between runs, and the stack config files the
    // engine wrote (untracked ones are only ever its own: unchanged, it sets
    // no config again, one CLI process less per run); everything else is
    // exactly the commit.
    await work.raw(["clean", "-ffdx", "-e", "node_modules", "-e", ".driftless", "-e", "Pulumi.*.yaml"]);
  }

  async changedFiles(source: SourceRef, from: string, to: string): Promise<string[] | undefined> {
    const git = this.#git(source, this.#mirrorDir(source.repo));
    try {
      await this.#ensureMirror(source, to);
      const out = await git.raw(["diff", "--name-only", "--no-renames", from, to]);
      return out.split("\n").filter(Boolean);
    } catch {
      return undefined;
    }
  }

  async isAncestor(source: SourceRef, ancestor: string, descendant: string): Promise<boolean | undefined> {
    try {
      const git = this.#git(source, await this.#ensureMirror(source, descendant));
      await git.raw(["cat-file", "-e", `${ancestor}^{commit}`]);
      return await git
        .raw(["merge-base", "--is-ancestor", ancestor, descendant])
        .then(() => true)
        .catch(() => false);
    } catch {
      return undefined;
    }
  }

  async sameTree(
    source: SourceRef,
    from: string,
    to: string,
    paths: readonly string[],
  ): Promise<boolean | undefined> {
    try {
      const mirror = await this.#ensureMirror(source, to);
      if (!(await this.#present(source, mirror, from))) return undefined;
      const git = this.#git(source, mirror);
      const dirs = paths.map((p) => p.replace(/^(\.\/)+/, "").replace(/\/+$/, ""));
      // The root's tree object names everything under it.
      if (dirs.some((d) => d === "" || d === ".")) {
        const [a, b] = (await git.raw(["rev-parse", `${from}^{tree}`, `${to}^{tree}`])).split("\n");
        return a !== undefined && a === b;
      }
      // Each path's entry (mode, type, object id), paths that are missing left out.
      const entries = (revision: string) =>
        git.raw(["--literal-pathspecs", "ls-tree", "--full-tree", revision, "--", ...dirs]);
      return (await entries(from)) === (await entries(to));
    } catch {
      return undefined;
    }
  }

  async commitSubject(source: SourceRef, revision: string): Promise<string | undefined> {
    const mirror = this.#mirrorDir(source.repo);
    if (!isFullSha(revision) || !existsSync(mirror)) return undefined;
    try {
      const out = await this.#git(source, mirror).raw(["log", "-1", "--format=%s", revision, "--"]);
      return out.trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async commitEmails(source: SourceRef, revision: string): Promise<readonly string[] | undefined> {
    const mirror = this.#mirrorDir(source.repo);
    if (!isFullSha(revision) || !existsSync(mirror)) return undefined;
    try {
      const out = await this.#git(source, mirror).raw(["log", "-1", "--format=%ae%n%ce", revision, "--"]);
      const emails = out
        .split("\n")
        .map((e) => e.trim().toLowerCase())
        .filter((e) => e !== "");
      return emails.length > 0 ? [...new Set(emails)] : undefined;
    } catch {
      return undefined;
    }
  }

  #mirrorDir(repo: string): string {
    return join(this.#mirrors, `${sha256(repoIdentity(repo)).slice(0, 16)}.git`);
  }

  /** Serialises work on one mirror: git does not allow two fetches into one repository at once. */
  async #exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.#locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.#locks.get(key) === next) this.#locks.delete(key);
    }
  }

  async #ensureMirror(source: SourceRef, revision: string): Promise<string> {
    const dir = this.#mirrorDir(source.repo);
    return this.#exclusive(dir, async () => {
      await this.#initMirror(source);
      if (await this.#present(source, dir, revision)) return dir;
      let tip: string | undefined;
      if (isFullSha(source.ref)) await this.#fetch(source, dir, [source.ref]);
      else ({ tip } = await this.#fetchRef(source, dir));
      if (tip !== revision && !(await this.#present(source, dir, revision))) {
        // The ref moved on between resolve and fetch; the next run picks up the new tip.
        throw new RetryableError(
          `revision ${revision.slice(0, 12)} is no longer reachable from ${source.ref}`,
        );
      }
      return dir;
    });
  }

  /** The repository's bare mirror, created on first use. */
  async #initMirror(source: SourceRef): Promise<string> {
    const dir = this.#mirrorDir(source.repo);
    if (!existsSync(join(dir, "HEAD"))) {
      mkdirSync(dir, { recursive: true });
      await this.#git(source, dir).raw(["init", "--bare", "--quiet"]);
    }
    return dir;
  }

  #present(source: SourceRef, mirror: string, revision: string): Promise<boolean> {
    return this.#git(source, mirror)
      .raw(["cat-file", "-e", `${revision}^{commit}`])
      .then(
        () => true,
        () => false,
      );
  }

  /**
   * Fetches the target's ref into the mirror; resolves the commit it points
   * at there (`tip`, read from the mirror's files; `undefined` when they need
   * git). A short name is a branch or, failing that, a tag (the order resolve
   * uses); a branch costs one round trip, a tag two. When the mirror's copy
   * of a branch is at `previous`, the branch is first fetched without `+`:
   * git then only fast-forwards it, so success proves the new tip descends
   * from `previous` (`fastForwardFrom`) and no ancestry check is needed.
   */
  async #fetchRef(
    source: SourceRef,
    mirror: string,
    previous?: string,
  ): Promise<{ readonly tip: string | undefined; readonly fastForwardFrom?: string }> {
    const remote = fullRefs(source.ref);
    const local = remote.map((ref) => `refs/driftless/${ref.replace(/^refs\//, "")}`);
    const specs = remote.map((ref, i) => ({ refspec: `+${ref}:${local[i]}`, local: local[i] as string }));
    const branch = local[0] as string;
    const fastForward =
      previous !== undefined &&
      remote[0]?.startsWith("refs/heads/") === true &&
      readLocalRefs(mirror, [branch])?.get(branch) === previous;
    if (fastForward) specs.unshift({ refspec: `${remote[0]}:${branch}`, local: branch });
    const index = await this.#fetch(
      source,
      mirror,
      specs.map((s) => s.refspec),
    );
    const fetched = specs[index]?.local as string;
    const refs = readLocalRefs(mirror, [`${fetched}^{}`, fetched]);
    const tip = refs?.get(`${fetched}^{}`) ?? refs?.get(fetched);
    return { tip, ...(fastForward && index === 0 ? { fastForwardFrom: previous } : {}) };
  }

  /** Tries each refspec in turn until one fetches; resolves the index of the one that did. */
  async #fetch(source: SourceRef, mirror: string, refspecs: readonly string[]): Promise<number> {
    const git = this.#git(source, mirror);
    for (const [i, refspec] of refspecs.entries()) {
      try {
        this.remoteCalls++;
        await git.raw(["fetch", "--quiet", "--no-tags", "--", source.repo, refspec]);
        return i;
      } catch (error) {
        if (i < refspecs.length - 1) continue;
        throw new RetryableError(
          `fetching ${source.ref} from ${publicRepoUrl(source.repo)} failed: ${gitMessage(error)}`,
          0,
          { cause: error },
        );
      }
    }
    throw new RetryableError(`nothing to fetch for ${source.ref}`);
  }

  #git(
    source: SourceRef,
    baseDir: string,
    config: Record<string, string> = {},
  ): { raw(args: readonly string[]): Promise<string> } {
    const withConfig = (env: Record<string, string>) => {
      for (const [key, value] of Object.entries(config)) {
        const index = Number(env.GIT_CONFIG_COUNT ?? 0);
        env[`GIT_CONFIG_KEY_${index}`] = key;
        env[`GIT_CONFIG_VALUE_${index}`] = value;
        env.GIT_CONFIG_COUNT = String(index + 1);
      }
      return env;
    };
    const { auth } = source;
    if (!auth?.sshKey) {
      const env = withConfig(gitEnv(auth));
      // gitEnv already dropped what a daemon must not inherit; what remains is meant.
      return { raw: (args) => runGit(args, { cwd: baseDir, env }) };
    }
    const key = auth.sshKey;
    const local = withConfig(gitEnv({ ...auth, sshKey: undefined }));
    return {
      raw: (args) =>
        REMOTE_COMMANDS.has(args[0] ?? "")
          ? this.#sshKeys.with(key, (file) =>
              runGit(args, { cwd: baseDir, env: withConfig(gitEnv(auth, file)) }),
            )
          : runGit(args, { cwd: baseDir, env: local }),
    };
  }
}

function fullRefs(ref: string): string[] {
  if (ref.startsWith("refs/")) return [ref];
  return [`refs/heads/${ref}`, `refs/tags/${ref}`];
}

function gitMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // ssh's own words, then git's "Could not read from remote repository", which hides why.
  if (/Host key verification failed/.test(text)) {
    return "the SSH server's host key is not the one `auth.knownHostsPath` lists for it (Host key verification failed); refusing to connect. If the server is the right one, add its key to that file (`ssh-keyscan -p <port> <host>`)";
  }
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .find((l) => l.startsWith("fatal:")) ??
    text.split("\n")[0] ??
    text
  );
}
