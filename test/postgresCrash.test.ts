// A reconciler whose store and Pulumi state are in PostgreSQL, killed with
// SIGKILL in the middle of `up`: the engine's lock is a row of pulumi_state,
// not a file. The next process marks the run interrupted, deletes the stale
// lock row, settles the pending create and applies without a duplicate.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const child = fileURLToPath(new URL("./support/crashChild.mjs", import.meta.url));

describe("recovery after a reconciler on PostgreSQL is killed during up", () => {
  let cluster: PostgresCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
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
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed() });
    repo.commit(
      {
        "site.json": JSON.stringify({
          "index.html": "<h1>v1</h1>",
          "slow.html": { content: "slow", delayMs: 6000 },
        }),
      },
      "a site with a slow page",
    );
    target = {
      name: "site",
      repo: repo.fileUrl,
      stack: "dev",
      passphrase: "test-passphrase",
      config: { outDir: join(sandbox.dir, "site") },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    };
  });

  afterAll(async () => {
    await cluster?.dispose();
    sandbox?.dispose();
  });

  it("deletes the stale lock row and settles the pending create, then applies", async () => {
    const dataDir = join(sandbox.dir, "data");
    const proc = spawn(process.execPath, [child, JSON.stringify({ dataDir, target, store })], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...sandbox.env },
    });
    let output = "";
    const killed = new Promise<void>((resolve, reject) => {
      proc.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const afterUp = output.split("STEP up")[1];
        if (afterUp !== undefined && /ENGINE create \S+slow\.html/.test(afterUp)) {
          proc.stdout.removeAllListeners("data");
          setTimeout(() => {
            process.kill(-(proc.pid as number), "SIGKILL");
            resolve();
          }, 1500);
        }
      });
      proc.on("exit", () => reject(new Error(`the child exited before it could be killed:\n${output}`)));
    });
    await killed;
    await new Promise((r) => setTimeout(r, 500));
    expect(await lockRows()).toHaveLength(1);

    const reconciler = await Reconciler.create({
      dataDir,
      targets: [target],
      installDependencies: false,
      store,
    });
    try {
      expect(reconciler.target("site")?.backend).toBe(cluster.url("crash", false));
      expect(reconciler.history("site")[0]?.result).toBe("interrupted");
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
