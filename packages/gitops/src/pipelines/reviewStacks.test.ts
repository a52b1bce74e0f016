import { describe, expect, it } from "vitest";
import { resolveTarget } from "../spec/spec.js";
import { pullRequestUrl, reviewTarget } from "./reviewStacks.js";

describe("reviewTarget", () => {
  const base = resolveTarget(
    {
      name: "shop",
      repo: "https://git.example.com/acme/shop.git",
      stack: "prod",
      mode: "detect",
      config: { "shop:ns": "shop", "shop:replicas": 3, "shop:note": "{number} stays" },
      dependsOn: [],
      reviewStacks: {
        stack: "pr-{number}",
        config: { "shop:ns": "shop-pr-{number}", "shop:branch": "{branch}" },
      },
    },
    { dataDir: "/data" },
  );

  it("derives a target of its own: stack, head ref, merged config, apply mode, destroyed on removal", () => {
    const derived = reviewTarget(base, { number: 7, branch: "feature/x" });
    expect(derived).toMatchObject({
      name: "shop-pr-7",
      ref: "refs/pull/7/head",
      stack: "pr-7",
      mode: "apply",
      destroyOnRemove: true,
      reviewStacks: undefined,
      review: { target: "shop", number: 7, branch: "feature/x" },
      // The target's own config is kept as written; only reviewStacks.config is substituted.
      config: {
        "shop:ns": "shop-pr-7",
        "shop:replicas": "3",
        "shop:note": "{number} stays",
        "shop:branch": "feature-x",
      },
    });
    expect(derived.backend).toBe(base.backend);
  });

  it("keeps a recorded stack, also once the base target's reviewStacks is gone, and never the base's own", () => {
    expect(reviewTarget(base, { number: 7, branch: "x", stack: "review-7" }).stack).toBe("review-7");
    const without = { ...base, reviewStacks: undefined };
    expect(() => reviewTarget(without, { number: 7, branch: "x" })).toThrow(/has no `reviewStacks`/);
    const recorded = reviewTarget(without, { number: 7, branch: "x", stack: "pr-7" });
    expect(recorded).toMatchObject({
      name: "shop-pr-7",
      stack: "pr-7",
      destroyOnRemove: true,
      config: base.config,
    });
    expect(() => reviewTarget(without, { number: 7, branch: "x", stack: "prod" })).toThrow(
      /would be the target's own stack/,
    );
  });

  it("links a pull request on GitHub and on Gitea", () => {
    expect(pullRequestUrl("https://github.com/acme/shop.git", 3)).toBe("https://github.com/acme/shop/pull/3");
    expect(pullRequestUrl("https://tok@git.example.com/acme/shop.git", 3)).toBe(
      "https://git.example.com/acme/shop/pulls/3",
    );
    expect(pullRequestUrl("git@github.com:acme/shop.git", 3)).toBeUndefined();
  });
});
