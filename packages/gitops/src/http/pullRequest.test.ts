import { describe, expect, it } from "vitest";
import { githubPullRequest } from "./pullRequest.js";

const repo = (fullName: string) => ({
  full_name: fullName,
  clone_url: `https://git.example.com/${fullName}.git`,
  html_url: `https://git.example.com/${fullName}`,
});

const payload = (action: string, headRepo: unknown = repo("acme/infra")) => ({
  action,
  number: 7,
  pull_request: {
    number: 7,
    base: { ref: "main", sha: "a".repeat(40), repo: repo("acme/infra") },
    head: { ref: "feature", sha: "b".repeat(40), repo: headRepo },
  },
  repository: repo("acme/infra"),
});

describe("pull request payloads", () => {
  it("reads GitHub's and Gitea's shape, Gitea's `synchronized` action included", () => {
    expect(githubPullRequest(payload("synchronized"))).toEqual({
      action: "synchronized",
      number: 7,
      repoUrls: ["https://git.example.com/acme/infra.git", "https://git.example.com/acme/infra"],
      baseRef: "main",
      baseSha: "a".repeat(40),
      headSha: "b".repeat(40),
      headRef: "feature",
      fork: false,
    });
  });

  it("tells a fork (or a deleted head repository) from a branch of the same repository", () => {
    expect(githubPullRequest(payload("opened", repo("mallory/infra")))).toMatchObject({ fork: true });
    expect(githubPullRequest(payload("opened", null))).toMatchObject({ fork: true });
  });

  it("says what is missing from a payload it cannot use", () => {
    expect(githubPullRequest({})).toBe("a pull_request payload needs an `action`");
    expect(githubPullRequest({ action: "opened", pull_request: { number: 1 } })).toMatch(/base.ref/);
  });
});
