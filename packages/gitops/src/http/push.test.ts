import { describe, expect, it } from "vitest";
import { repoIdentity as normalizeRepoUrl } from "../git/repo.js";
import { resolveTarget } from "../spec/spec.js";
import { genericPush, githubPush, gitlabPush, matchTargets, type PushEvent } from "./push.js";

const target = (name: string, path: string, extra: Record<string, unknown> = {}) =>
  resolveTarget(
    { name, repo: "https://github.com/acme/infra.git", stack: "dev", path, ...extra },
    { dataDir: "/tmp/d" },
  );

const github = (files: { added?: string[]; modified?: string[]; removed?: string[] }[], extra = {}) =>
  githubPush({
    ref: "refs/heads/main",
    repository: { clone_url: "https://github.com/acme/infra.git", ssh_url: "git@github.com:acme/infra.git" },
    commits: files.map((f) => ({
      added: f.added ?? [],
      modified: f.modified ?? [],
      removed: f.removed ?? [],
    })),
    ...extra,
  });

describe("repository URL normalisation", () => {
  it("makes https, ssh, scp-style and .git-suffixed URLs of one repository equal", () => {
    const forms = [
      "https://github.com/acme/infra.git",
      "https://GitHub.com/acme/infra",
      "http://github.com/acme/infra/",
      "git@github.com:acme/infra.git",
      "ssh://git@github.com:22/acme/infra.git",
      "https://x-access-token:secret@github.com/acme/infra.git",
    ];
    expect(new Set(forms.map(normalizeRepoUrl))).toEqual(new Set(["github.com/acme/infra"]));
  });

  it("keeps different repositories and file paths apart", () => {
    expect(normalizeRepoUrl("https://github.com/acme/other")).not.toBe(
      normalizeRepoUrl("https://github.com/acme/infra"),
    );
    expect(normalizeRepoUrl("file:///srv/git/infra.git")).toBe("/srv/git/infra");
  });
});

describe("push payloads", () => {
  const targets = [target("site", "apps/site"), target("api", "apps/api"), target("all", ".")];

  it("triggers the targets whose path has changed files", () => {
    const push = github([{ modified: ["apps/site/site.json"] }, { removed: ["apps/api/old.js"] }]);
    expect(matchTargets(targets, push as PushEvent).map((t) => t.name)).toEqual(["site", "api", "all"]);
  });

  it("triggers a target whose watchPaths have changed files", () => {
    const watching = [...targets, target("web", "apps/web", { watchPaths: ["lib/"] })];
    const push = github([{ modified: ["lib/util.js"] }]);
    expect(matchTargets(watching, push as PushEvent).map((t) => t.name)).toEqual(["all", "web"]);
  });

  it("triggers no path-scoped target for a change elsewhere", () => {
    const push = github([{ added: ["docs/readme.md"] }]);
    expect(matchTargets(targets, push as PushEvent).map((t) => t.name)).toEqual(["all"]);
  });

  it("ignores other branches, other repositories and deleted refs", () => {
    expect(
      matchTargets(targets, github([{ added: ["apps/site/a"] }], { ref: "refs/heads/dev" }) as PushEvent),
    ).toEqual([]);
    expect(
      matchTargets(
        targets,
        github([{ added: ["apps/site/a"] }], {
          repository: { clone_url: "https://github.com/x/y" },
        }) as PushEvent,
      ),
    ).toEqual([]);
    expect(matchTargets(targets, github([], { deleted: true }) as PushEvent)).toEqual([]);
  });

  it("matches every path when a push carries no commit lists", () => {
    const push = github([]);
    expect(push).toMatchObject({ ref: "refs/heads/main" });
    expect((push as PushEvent).paths).toBeUndefined();
  });

  it("says what is missing from a malformed payload", () => {
    expect(githubPush({})).toMatch(/ref/);
    expect(githubPush({ ref: "refs/heads/main" })).toMatch(/repository/);
    expect(gitlabPush([])).toMatch(/ref/);
    expect(genericPush({ ref: "main" })).toMatch(/repository/);
    expect(genericPush({ repository: "https://x/y", ref: "main", paths: [1] })).toMatch(/paths/);
  });

  it("reads GitLab pushes and treats a truncated commit list as unknown changes", () => {
    const push = gitlabPush({
      ref: "refs/heads/main",
      // GitLab mirror of the same repository, for the sake of the test.
      project: { git_http_url: "https://github.com/acme/infra.git" },
      commits: [{ added: [], modified: ["docs/a"], removed: [] }],
      total_commits_count: 30,
    });
    expect(push).toMatchObject({ ref: "refs/heads/main" });
    expect((push as PushEvent).paths).toBeUndefined();
    expect(matchTargets(targets, push as PushEvent).map((t) => t.name)).toEqual(["site", "api", "all"]);
  });

  it("reads the generic body with a short branch name", () => {
    const push = genericPush({
      repository: "git@github.com:acme/infra.git",
      ref: "main",
      paths: ["apps/api/x"],
    });
    expect(matchTargets(targets, push as PushEvent).map((t) => t.name)).toEqual(["api", "all"]);
  });

  it("takes the commit a push names only when it is a full, non-zero SHA", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect((github([], { after: sha }) as PushEvent).after).toBe(sha);
    expect((github([], { after: "0".repeat(40), deleted: true }) as PushEvent).after).toBeUndefined();
    expect((github([], { after: "abc123" }) as PushEvent).after).toBeUndefined();
    const gitlab = gitlabPush({
      ref: "refs/heads/main",
      project: { git_http_url: "https://x/y" },
      after: sha,
    });
    expect((gitlab as PushEvent).after).toBe(sha);
    const generic = genericPush({ repository: "https://x/y", ref: "main", after: sha.toUpperCase() });
    expect((generic as PushEvent).after).toBeUndefined();
  });
});
