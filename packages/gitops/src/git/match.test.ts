import { describe, expect, it } from "vitest";
import { pathMatches, refMatches } from "./match.js";

describe("path matching", () => {
  it("matches files inside the target's directory only", () => {
    expect(pathMatches("apps/site", ["apps/site/index.js"])).toBe(true);
    expect(pathMatches("apps/site", ["apps/site"])).toBe(true);
    expect(pathMatches("apps/site", ["apps/site2/index.js", "docs/readme.md"])).toBe(false);
    expect(pathMatches("apps/site/", ["apps/site/a"])).toBe(true);
  });

  it("matches any change for a target at the repository root", () => {
    expect(pathMatches(".", ["docs/readme.md"])).toBe(true);
    expect(pathMatches(".", [])).toBe(false);
  });

  it("matches everything when the sender could not list the changes", () => {
    expect(pathMatches("apps/site", undefined)).toBe(true);
  });

  it("matches branch names and full refs", () => {
    expect(refMatches("main", "refs/heads/main")).toBe(true);
    expect(refMatches("refs/heads/main", "refs/heads/main")).toBe(true);
    expect(refMatches("v1", "refs/tags/v1")).toBe(true);
    expect(refMatches("main", "refs/heads/main2")).toBe(false);
  });
});
