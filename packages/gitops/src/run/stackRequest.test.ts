import { describe, expect, it } from "vitest";
import { resolveTarget } from "../spec/spec.js";
import { compileCacheDir, stackRequestFor } from "./stackRequest.js";

const dataDir = "/var/lib/driftless";
const target = (env: Record<string, string> = {}) =>
  resolveTarget(
    { name: "site", repo: "https://example.com/infra.git", stack: "dev", passphrase: "p", env },
    { dataDir },
  );

describe("the engine request's environment", () => {
  it("gives each target's programs a compile cache of their own under the data directory", () => {
    const request = stackRequestFor(target(), "abc", "/work/site", {}, { dataDir });
    expect(request.env.NODE_COMPILE_CACHE).toBe("/var/lib/driftless/cache/node-compile/site");
    expect(compileCacheDir(dataDir, "other")).not.toBe(request.env.NODE_COMPILE_CACHE);
  });

  it("leaves the compile cache to the target's env when it sets one, and out without a data directory", () => {
    expect(
      stackRequestFor(target({ NODE_COMPILE_CACHE: "/tmp/mine" }), "abc", "/w", {}, { dataDir }).env
        .NODE_COMPILE_CACHE,
    ).toBe("/tmp/mine");
    expect(stackRequestFor(target(), "abc", "/w", {}).env.NODE_COMPILE_CACHE).toBeUndefined();
  });
});
