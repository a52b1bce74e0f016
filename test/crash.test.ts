// A reconciler process killed with SIGKILL in the middle of `up` (engine and
// all) leaves a stale stack lock and a pending create behind. The next process
// marks the run interrupted, clears both, and finishes the job without
// duplicating a resource.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killDuringSlowCreate, slowSite, startCrashChild } from "./support/crash.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";

function stackCheckpoint(stateDir: string): { type: string; urn: string }[] {
  const stacks = join(stateDir, ".pulumi", "stacks");
  const files = readdirSync(stacks, { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith("dev.json"),
  );
  const checkpoint = JSON.parse(readFileSync(join(stacks, files[0] as string), "utf8"));
  return checkpoint.checkpoint.latest?.resources ?? [];
}

function lockFiles(stateDir: string): string[] {
  const locks = join(stateDir, ".pulumi", "locks");
  if (!existsSync(locks)) return [];
  return readdirSync(locks, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
}

describe("recovery after the reconciler is killed during up", () => {
  let sandbox: EngineSandbox;
  let target: TargetSpec;
  let dataDir: string;

  beforeAll(() => {
    sandbox = engineSandbox();
    dataDir = join(sandbox.dir, "data");
    target = slowSite(sandbox).target;
  });

  afterAll(() => sandbox?.dispose());

  it("clears the stale lock and pending operations, then applies", async () => {
    await killDuringSlowCreate(startCrashChild({ dataDir, target }, sandbox));

    const stateDir = join(dataDir, "state");
    expect(lockFiles(stateDir).length).toBeGreaterThan(0);

    const reconciler = await Reconciler.create({ dataDir, targets: [target], installDependencies: false });
    try {
      expect((await reconciler.history("site"))[0]?.result).toBe("interrupted");
      const run = await reconciler.reconcile("site");
      expect(run.error).toBeUndefined();
      expect(run.result).toBe("applied");
      expect(run.log).toMatch(/stale lock/);
      expect(lockFiles(stateDir)).toEqual([]);
      const files = stackCheckpoint(stateDir).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
      expect(files.map((r) => r.urn.split("::").at(-1)).sort()).toEqual(["index.html", "slow.html"]);
      expect(readFileSync(join(sandbox.dir, "site", "slow.html"), "utf8")).toBe("slow");
      // The next run finds nothing left to do.
      expect((await reconciler.reconcile("site")).result).toBe("unchanged");
    } finally {
      await reconciler.stop();
    }
  });
});
