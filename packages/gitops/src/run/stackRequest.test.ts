import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveTarget } from "../spec/spec.js";
import { compileCacheDir, runTempDir, runTempRoot, stackRequestFor } from "./stackRequest.js";

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

describe("a run's temporary directory", () => {
  it("is made under the data directory for the run's engine, and removed by its release", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "driftless-runtmp-"));
    try {
      const temp = await runTempDir(dataDir, target(), "0123456789abcdef");
      const dir = temp.env.TMPDIR as string;
      expect(dirname(dir)).toBe(runTempRoot(dataDir));
      expect(basename(dir)).toMatch(/^01234567-/);
      writeFileSync(join(dir, "kubeconfig123"), "left by a provider");
      await temp.remove();
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("is left to the target when its env sets TMPDIR", async () => {
    const temp = await runTempDir("/nonexistent", target({ TMPDIR: "/var/tmp/mine" }), "run");
    expect(temp.env).toEqual({});
    await temp.remove();
  });
});
