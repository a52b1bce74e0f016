// Drift against the real engine: what refresh finds changed by hand is drift,
// whatever the revisions, and changes a new commit brings are reported apart.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PulumiEngine,
  Reconciler,
  type ReconcilerEvents,
  ReconcilerMetrics,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

describe("drift with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let metrics: ReconcilerMetrics;
  let outDir: string;
  let first: string;
  const drifts: ReconcilerEvents["drift.detected"][] = [];

  const spec = (name: string, overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name,
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
  const condition = async (target: string, type: string) =>
    (await reconciler.status(target)).conditions.find((c) => c.type === type);
  const driftMetric = async (target: string) => {
    const text = await metrics.registry.metrics();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`driftless_drifts_detected_total{target="${target}"}`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    first = repo.commit({}, "site v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec("site")],
    });
    metrics = new ReconcilerMetrics(reconciler);
    reconciler.on("drift.detected", (e) => drifts.push(e));
    const applied = await reconciler.reconcile("site");
    expect(applied.error).toBeUndefined();
    expect(applied.result).toBe("applied");
  });

  afterAll(async () => {
    metrics?.close();
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("watches nothing for a target without Kubernetes objects: its drift is left to resync", async () => {
    expect((await reconciler.status("site")).conditions.map((c) => c.type)).not.toContain("Watching");
    expect(await reconciler.watchStats()).toMatchObject({ open: 0, received: 0, checks: 0 });
  });

  it("reports drift already there when a detect target is added to a stack edited by hand", async () => {
    // The applying target goes; its infrastructure stays, and someone edits it.
    await reconciler.removeTarget("site");
    writeFileSync(join(outDir, "about.html"), "edited by hand");
    reconciler.addTarget(spec("watch", { mode: "detect" }));

    const run = await reconciler.reconcile("watch", { trigger: "startup", force: false });
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: first });
    expect(await condition("watch", "Drifted")).toMatchObject({ status: true, reason: "DriftDetected" });
    expect(drifts).toEqual([expect.objectContaining({ target: "watch", revision: first })]);
    expect(await driftMetric("watch")).toBe(1);
    // Detect mode applies nothing and shows no applied revision.
    expect(page("about.html")).toBe("edited by hand");
    expect((await reconciler.status("watch")).lastAppliedRevision).toBeUndefined();
    expect((await reconciler.status("watch")).pendingChanges).toBeUndefined();
  });

  it("reports drift and changes from Git apart when a commit lands while drift exists", async () => {
    const second = repo.commit(
      { "site.json": '{ "index.html": "<h1>v2</h1>", "about.html": "<p>about</p>" }' },
      "v2",
    );
    const run = await reconciler.reconcile("watch", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: second });
    expect(run.log).toMatch(/drift in 1 resource\(s\); changes from Git not yet applied/);
    const status = await reconciler.status("watch");
    expect((await condition("watch", "Drifted"))?.status).toBe(true);
    expect(await condition("watch", "Ready")).toMatchObject({ status: true, reason: "ChangesPending" });
    expect(status.pendingChanges).toEqual({ revision: second });
    expect(status.lastAppliedRevision).toBeUndefined();
    expect(await driftMetric("watch")).toBe(2);
    expect(page("index.html")).toBe("<h1>v1</h1>");
    expect(page("about.html")).toBe("edited by hand");
  });

  it("reports only the changes from Git once the drift is undone by hand", async () => {
    writeFileSync(join(outDir, "about.html"), "<p>about</p>");
    const run = await reconciler.reconcile("watch", { trigger: "manual" });
    expect(run).toMatchObject({ result: "planned", drift: false });
    expect((await condition("watch", "Drifted"))?.status).toBe(false);
    expect((await condition("watch", "Ready"))?.reason).toBe("ChangesPending");
    expect(await driftMetric("watch")).toBe(2);
  });

  it("says in sync once a run held for approval finds the drift undone", async () => {
    writeFileSync(join(outDir, "about.html"), "edited again");
    reconciler.addTarget(spec("watch", { requireApproval: true }));
    const found = await reconciler.reconcile("watch", { trigger: "manual" });
    expect(found).toMatchObject({ result: "awaiting-approval", drift: true });
    expect((await condition("watch", "Drifted"))?.status).toBe(true);
    // Put back by hand while the plan waits; the next check is held again, with no drift in it.
    writeFileSync(join(outDir, "about.html"), "<p>about</p>");
    const held = await reconciler.reconcile("watch", { trigger: "manual", force: true });
    expect(held).toMatchObject({ result: "awaiting-approval", drift: false });
    expect(await condition("watch", "Drifted")).toMatchObject({ status: false, reason: "InSync" });
    expect((await reconciler.status("watch")).unresolvedDrift).toBeUndefined();
  });
});
