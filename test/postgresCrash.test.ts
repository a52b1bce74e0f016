// A reconciler whose store and Pulumi state are in PostgreSQL, killed with
// SIGKILL in the middle of `up`: the engine's lock is a row of pulumi_state,
// not a file. The next process marks the run interrupted, deletes the stale
// lock row, settles the pending create and applies without a duplicate.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killDuringSlowCreate, slowSite, startCrashChild } from "./support/crash.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";

describe("recovery after a reconciler on PostgreSQL is killed during up", () => {
  let cluster: PostgresCluster;
  let sandbox: EngineSandbox;
  let target: TargetSpec;
  let store: string;

  const lockRows = async () =>
    (await cluster.psql("SELECT key FROM pulumi_state WHERE key LIKE '%.pulumi/locks/%'", "crash"))
      .split("\n")
      .filter(Boolean);
  const checkpointResources = async (): Promise<{ type: string; urn: string }[]> => {
    // The backend stores each file as {"data": "<base64>"}.
    const blob = await cluster.psql(
      "SELECT data->>'data' FROM pulumi_state WHERE key LIKE '%.pulumi/stacks/%/dev.json'",
      "crash",
    );
    return JSON.parse(Buffer.from(blob, "base64").toString("utf8")).checkpoint.latest?.resources ?? [];
  };

  beforeAll(async () => {
    cluster = await startPostgres();
    store = await cluster.createDatabase("crash");
    sandbox = engineSandbox();
    target = slowSite(sandbox).target;
  });

  afterAll(async () => {
    await cluster?.dispose();
    sandbox?.dispose();
  });

  it("deletes the stale lock row and settles the pending create, then applies", async () => {
    const dataDir = join(sandbox.dir, "data");
    await killDuringSlowCreate(startCrashChild({ dataDir, target, store }, sandbox));
    expect(await lockRows()).toHaveLength(1);

    const reconciler = await Reconciler.create({
      dataDir,
      targets: [target],
      installDependencies: false,
      store,
    });
    try {
      expect(reconciler.target("site")?.backend).toBe(cluster.url("crash", false));
      expect((await reconciler.history("site"))[0]?.result).toBe("interrupted");
      const run = await reconciler.reconcile("site");
      expect(run.error).toBeUndefined();
      expect(run.result).toBe("applied");
      expect(run.log).toMatch(/removed a stale lock on \S+\/dev left by process \d+/);
      expect(await lockRows()).toEqual([]);
      const files = (await checkpointResources()).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
      expect(files.map((r) => r.urn.split("::").at(-1)).sort()).toEqual(["index.html", "slow.html"]);
      expect(readFileSync(join(sandbox.dir, "site", "slow.html"), "utf8")).toBe("slow");
      expect((await reconciler.reconcile("site")).result).toBe("unchanged");
    } finally {
      await reconciler.stop();
    }
  });
});
