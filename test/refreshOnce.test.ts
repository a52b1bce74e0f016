// One refresh per apply against the real engine: a new revision refreshes
// once and keeps the state, previews and applies from it, and its `up` does
// only what the preview showed — it plans again when the stack's state moved
// in between, and an `up` that strays from its preview is stopped.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type EngineOperationOptions,
  type Plan,
  PlanDivergedError,
  PulumiEngine,
  Reconciler,
  type RunRecord,
  type StackRequest,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

/** The real engine, with a hook between a preview and what follows it. */
class HookedEngine extends PulumiEngine {
  afterPreview: ((request: StackRequest) => Promise<void>) | undefined;
  previews = 0;
  override async preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    this.previews++;
    const plan = await super.preview(request, options);
    const hook = this.afterPreview;
    this.afterPreview = undefined;
    await hook?.(request);
    return plan;
  }
}

describe("one refresh per apply, with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let engine: HookedEngine;
  let outDir: string;

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name: "site",
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    ...overrides,
  });
  const page = (name: string) => readFileSync(join(outDir, name), "utf8");
  const fullLog = async (run: RunRecord) => (await reconciler.runLog(run.id))?.text ?? "";
  /** How often the run's log says the engine refreshed the page `name`. */
  const refreshesOf = async (run: RunRecord, name: string) =>
    (await fullLog(run))
      .split("\n")
      .filter((line) => line.includes("refreshed urn:") && line.endsWith(`::${name}`)).length;

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({}, "site v1");
    engine = new HookedEngine();
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine,
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec()],
    });
    const applied = await reconciler.reconcile("site");
    expect(applied.error).toBeUndefined();
    expect(applied.result).toBe("applied");
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("refreshes a new revision once, reports what the refresh found as drift, and applies both", async () => {
    writeFileSync(join(outDir, "about.html"), "edited by hand");
    repo.commit(
      { "site.json": JSON.stringify({ "index.html": "<h1>v2</h1>", "about.html": "about" }) },
      "v2",
    );
    const invocations = engine.invocations;
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-corrected");
    // Twice would be preview --refresh and up --refresh, as before.
    expect(await refreshesOf(run, "about.html")).toBe(1);
    expect(await refreshesOf(run, "index.html")).toBe(1);
    // refresh, preview, up: the state digests are read from the backend's files.
    expect(engine.invocations - invocations).toBe(3);
    expect(page("about.html")).toBe("about");
    expect(page("index.html")).toBe("<h1>v2</h1>");
  });

  it("plans again when another update changes the state between the preview and the up", async () => {
    engine.afterPreview = async (request) => {
      // Someone edits a page and another process records it (`pulumi refresh`).
      writeFileSync(join(outDir, "about.html"), "edited while the run previewed");
      await new PulumiEngine().refresh(request);
    };
    const previews = engine.previews;
    repo.commit(
      { "site.json": JSON.stringify({ "index.html": "<h1>v3</h1>", "about.html": "about" }) },
      "v3",
    );
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    expect(await fullLog(run)).toMatch(
      /the stack's state changed since the preview \(\w+ → \w+\); planning again/,
    );
    expect(engine.previews - previews).toBe(2);
    // The second plan saw the edit and the up corrected it, with the new revision.
    expect(run.plan?.map((s) => s.urn.split("::").at(-1)).sort()).toEqual(["about.html", "index.html"]);
    expect(page("about.html")).toBe("about");
    expect(page("index.html")).toBe("<h1>v3</h1>");
  });

  it("stops an up at a step its preview did not show", async () => {
    writeFileSync(join(outDir, "about.html"), "edited again");
    const direct = new PulumiEngine();
    const request: StackRequest = {
      workDir: join(sandbox.dir, "data", "work", "site"),
      stack: "dev",
      backend: `file://${join(sandbox.dir, "data", "state")}`,
      secretsProvider: "passphrase",
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH, PULUMI_CONFIG_PASSPHRASE: "test-passphrase" },
      config: { outDir },
      secretConfig: {},
    };
    // The preview showed nothing; refreshing inside the up finds the edit and plans an update.
    const up = direct.up(request, { refresh: true, expect: [] });
    await expect(up).rejects.toBeInstanceOf(PlanDivergedError);
    await expect(up).rejects.toThrow(
      /about to update urn:\S+::about\.html, where the preview showed no change/,
    );
  });
});
