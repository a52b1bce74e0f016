import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Runs git with a fixed identity and no user or system config, returning stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Test Author",
      GIT_AUTHOR_EMAIL: "author@example.com",
      GIT_COMMITTER_NAME: "Test Author",
      GIT_COMMITTER_EMAIL: "author@example.com",
    },
  }).trim();
}

/** A bare "remote" repository plus a working clone to commit and push from. */
export interface TestRepo {
  /** Path of the bare repository (serve it over file:// or smart HTTP). */
  readonly bare: string;
  readonly fileUrl: string;
  readonly work: string;
  /** Writes files (path → content; `null` deletes), commits and pushes; returns the new SHA. */
  commit(files: Record<string, string | null>, message?: string): string;
  /** `git revert` of a commit, pushed; returns the new SHA. */
  revert(sha: string): string;
  /** Points the branch at a commit and force-pushes (a rewritten history). */
  forcePush(sha: string): void;
  /** Tags the working clone's HEAD (annotated or lightweight) and pushes the tag. */
  tag(name: string, annotated: boolean): void;
  head(): string;
}

export function createRepo(
  root: string,
  options: { readonly seed?: string; readonly branch?: string } = {},
): TestRepo {
  const branch = options.branch ?? "main";
  const bare = join(root, "remote.git");
  const work = join(root, "work");
  mkdirSync(root, { recursive: true });
  git(root, "init", "--bare", "--quiet", `--initial-branch=${branch}`, bare);
  // Smart HTTP serves only repositories that allow it.
  git(bare, "config", "http.receivepack", "true");
  git(root, "init", "--quiet", `--initial-branch=${branch}`, work);
  git(work, "remote", "add", "origin", bare);
  if (options.seed) cpSync(options.seed, work, { recursive: true });
  const push = () => git(work, "push", "--quiet", "--force", "origin", `HEAD:refs/heads/${branch}`);
  return {
    bare,
    fileUrl: `file://${bare}`,
    work,
    commit(files, message = "change") {
      for (const [path, content] of Object.entries(files)) {
        const full = join(work, path);
        if (content === null) rmSync(full, { force: true });
        else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content);
        }
      }
      git(work, "add", "-A");
      git(work, "commit", "--quiet", "--allow-empty", "-m", message);
      push();
      return git(work, "rev-parse", "HEAD");
    },
    revert(sha) {
      git(work, "revert", "--no-edit", sha);
      push();
      return git(work, "rev-parse", "HEAD");
    },
    forcePush(sha) {
      git(work, "reset", "--quiet", "--hard", sha);
      push();
    },
    tag(name, annotated) {
      git(work, "tag", ...(annotated ? ["-a", "-m", `release ${name}`] : []), name);
      git(work, "push", "--quiet", "origin", `refs/tags/${name}`);
    },
    head: () => git(work, "rev-parse", "HEAD"),
  };
}
