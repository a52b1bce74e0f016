import { describe, expect, it } from "vitest";
import { checkPromotions } from "../pipelines/promotion.js";
import { stackLockKey } from "../replicas/leases.js";
import { resolveTarget } from "../spec/spec.js";
import { repoIdentity, sameRepo } from "./repo.js";

describe("repository identity", () => {
  it("treats …/r and …/r.git as one repository, and credentials, case of host, trailing slashes too", () => {
    const forms = [
      "https://github.com/acme/r",
      "https://github.com/acme/r.git",
      "https://x-access-token:secret@GitHub.com/acme/r.git/",
      "git@github.com:acme/r.git",
      "ssh://git@github.com:22/acme/r",
    ];
    expect(new Set(forms.map(repoIdentity))).toEqual(new Set(["github.com/acme/r"]));
    expect(sameRepo("file:///srv/git/r", "file:///srv/git/r.git")).toBe(true);
    expect(sameRepo("https://github.com/acme/r", "https://github.com/acme/R")).toBe(false);
    expect(sameRepo("https://github.com/acme/r", "https://gitlab.com/acme/r")).toBe(false);
  });

  const target = (name: string, repo: string, extra: Record<string, unknown> = {}) =>
    resolveTarget(
      { name, repo, stack: name, passphrase: "p", ...extra } as Parameters<typeof resolveTarget>[0],
      { dataDir: "/tmp/driftless-repo-test" },
    );

  it("lets a target promote from one that names its repository with .git", () => {
    const targets = new Map([
      ["staging", target("staging", "https://github.com/acme/r")],
      ["prod", target("prod", "https://github.com/acme/r.git", { promote: { from: "staging" } })],
    ]);
    expect(() => checkPromotions(targets)).not.toThrow();
    const other = new Map([
      ["staging", target("staging", "https://github.com/acme/other")],
      ["prod", target("prod", "https://github.com/acme/r.git", { promote: { from: "staging" } })],
    ]);
    expect(() => checkPromotions(other)).toThrowError(/another repository/);
  });

  it("leases one stack whichever form of the repository URL a target uses", () => {
    expect(stackLockKey(target("a", "https://github.com/acme/r", { stack: "dev" }))).toBe(
      stackLockKey(target("a", "https://token@github.com/acme/r.git", { stack: "dev" })),
    );
  });
});
