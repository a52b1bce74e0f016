// A missing engine plugin is a setup failure, not a program error: with the
// real engine, a program using a dynamic provider run by a Pulumi CLI that
// cannot find `pulumi-resource-pulumi-nodejs` fails (retryable) with a message
// naming the plugin, and applies once the plugin is back on its PATH.
import { accessSync } from "node:fs";
import { join } from "node:path";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

describe("a missing engine plugin, with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;

  /** The engine's PATH, without the directory that holds `pulumi-resource-pulumi-nodejs`. */
  const pathWithout = (plugin: string) =>
    (process.env.PATH ?? "")
      .split(":")
      .filter((dir) => {
        try {
          accessSync(join(dir, plugin));
          return false;
        } catch {
          return true;
        }
      })
      .join(":");
  const spec = (env: Record<string, string> = {}): TargetSpec => ({
    name: "site",
    repo: repo.fileUrl,
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir: join(sandbox.dir, "site") },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH, ...env },
    interval: "1h",
    resync: "1h",
  });

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-missing-plugin-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({}, "site v1");
  });
  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("fails as a retryable setup error naming the plugin, then applies once it is there", async () => {
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec({ PATH: pathWithout("pulumi-resource-pulumi-nodejs") })],
    });
    const missing = await reconciler.reconcile("site");
    expect(missing.result).toBe("failed");
    expect(missing.error).toMatch(/no resource plugin `pulumi-resource-pulumi-nodejs`/);
    expect(missing.error).toMatch(/complete Pulumi CLI, or put the plugin on the engine's PATH/);
    const status = await reconciler.status("site");
    expect(status.stalledRevision).toBeUndefined();
    expect(status.conditions.find((c) => c.type === "Stalled")?.status ?? false).toBe(false);

    // The setup is fixed: the next run applies, nothing held back.
    reconciler.addTarget(spec());
    const fixed = await reconciler.reconcile("site");
    expect(fixed.error).toBeUndefined();
    expect(fixed.result).toBe("applied");
  });
});
