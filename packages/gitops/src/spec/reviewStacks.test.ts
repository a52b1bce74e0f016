import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { branchSlug, substitute, templateIssues } from "./reviewStacks.js";
import { resolveTarget } from "./spec.js";

const base = { name: "shop", repo: "https://git.example.com/acme/shop.git", stack: "prod" };
const defaults = { dataDir: "/data" };

describe("review stack config", () => {
  it("resolves reviewStacks with its defaults and config values as strings", () => {
    const target = resolveTarget(
      {
        ...base,
        reviewStacks: { stack: "pr-{number}", config: { replicas: 1, "shop:ns": "shop-pr-{number}" } },
      },
      defaults,
    );
    expect(target.reviewStacks).toEqual({
      stack: "pr-{number}",
      config: { replicas: "1", "shop:ns": "shop-pr-{number}" },
      ttlMs: undefined,
      maxConcurrent: 5,
      paths: undefined,
    });
    expect(
      resolveTarget({ ...base, reviewStacks: { stack: "pr-{number}", ttl: "3d" } }, defaults).reviewStacks
        ?.ttlMs,
    ).toBe(3 * 86_400_000);
  });

  it("refuses a template that could name the base stack, naming the field and the value", () => {
    const refused = () =>
      resolveTarget({ ...base, stack: "pr-7", reviewStacks: { stack: "pr-{number}" } }, defaults);
    expect(refused).toThrow(SpecError);
    expect(refused).toThrow(
      'target "shop": `reviewStacks.stack` "pr-{number}" could name the target\'s own stack "pr-7"; a review stack must never be the base stack',
    );
    expect(templateIssues("{branch}-{number}", "main-1")).toHaveLength(1);
    expect(templateIssues("review/pr-{number}", "prod")).toEqual([]);
  });

  it("refuses a template without {number}, with an unknown placeholder, or a bad ttl or maxConcurrent", () => {
    expect(() => resolveTarget({ ...base, reviewStacks: { stack: "preview" } }, defaults)).toThrow(
      '`reviewStacks.stack` "preview" must contain {number}',
    );
    expect(() => resolveTarget({ ...base, reviewStacks: { stack: "pr-{number}-{user}" } }, defaults)).toThrow(
      "unknown placeholder(s) {user}",
    );
    expect(() =>
      resolveTarget({ ...base, reviewStacks: { stack: "pr-{number}", ttl: "soon" } }, defaults),
    ).toThrow("`reviewStacks.ttl`");
    expect(() =>
      resolveTarget({ ...base, reviewStacks: { stack: "pr-{number}", maxConcurrent: 0 } }, defaults),
    ).toThrow("`reviewStacks.maxConcurrent` must be a whole number of at least 1");
  });

  it("substitutes {number} and a stack-safe {branch}", () => {
    expect(branchSlug("Feature/Login_Page")).toBe("feature-login-page");
    expect(branchSlug("///")).toBe("branch");
    expect(substitute("shop-{branch}-{number}", 12, "fix/Cart")).toBe("shop-fix-cart-12");
  });
});
