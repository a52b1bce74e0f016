// Ref discovery without a git process, against real git: the answers a
// `file://` remote and a smart-HTTP remote (`git http-backend`) give must be
// git's own, in one HTTP request, with the token sent as git sends it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitSource, RetryableError } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepo, git, type TestRepo } from "./support/git.js";
import { type GitHttpServer, startGitHttp } from "./support/gitHttp.js";

describe("ref discovery without git", () => {
  let root: string;
  let http: GitHttpServer;
  let repo: TestRepo;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "driftless-refs-e2e-"));
    repo = createRepo(join(root, "repo"));
    http = await startGitHttp(join(root, "repo"));
  });
  afterAll(async () => {
    await http.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("resolves branches and tags over smart HTTP in one request, as git does", async () => {
    const first = repo.commit({ "a.txt": "1" }, "one");
    repo.tag("v1", true);
    repo.tag("light", false);
    const tip = repo.commit({ "a.txt": "2" }, "two");
    const direct = new GitSource({ dataDir: join(root, "direct") });
    const viaGit = new GitSource({ dataDir: join(root, "git"), directRefs: false });
    const url = `${http.url}/remote.git`;
    for (const ref of ["main", "v1", "light", "refs/heads/main", "refs/tags/v1"]) {
      const sent = http.requests.length;
      const answer = await direct.resolve({ repo: url, ref });
      expect(http.requests.slice(sent)).toEqual(["GET /remote.git/info/refs?service=git-upload-pack"]);
      expect(answer).toBe(await viaGit.resolve({ repo: url, ref }));
    }
    expect(await direct.resolve({ repo: url, ref: "main" })).toBe(tip);
    expect(await direct.resolve({ repo: url, ref: "v1" })).toBe(first);
  });

  it("reports a missing repository as retryable and a missing ref as stalled", async () => {
    const source = new GitSource({ dataDir: join(root, "missing") });
    await expect(source.resolve({ repo: `${http.url}/nothing.git`, ref: "main" })).rejects.toBeInstanceOf(
      RetryableError,
    );
    await expect(source.resolve({ repo: `${http.url}/remote.git`, ref: "gone" })).rejects.toThrowError(
      /ref "gone" does not exist/,
    );
  });

  it("reads a file:// remote's refs as git does, packed or loose", async () => {
    const tip = repo.commit({ "a.txt": "3" }, "three");
    const source = new GitSource({ dataDir: join(root, "local") });
    expect(await source.resolve({ repo: repo.fileUrl, ref: "main" })).toBe(tip);
    git(repo.bare, "pack-refs", "--all");
    expect(await source.resolve({ repo: repo.fileUrl, ref: "v1" })).toBe(
      git(repo.bare, "rev-parse", "v1^{commit}"),
    );
  });
});
