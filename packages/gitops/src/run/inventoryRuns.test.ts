// The inventory a run stores, through a reconciler over the fake engine: what
// each run records, an engine error on a resource, and a state that cannot be read.
import { describe, expect, it } from "vitest";
import type { StateResource } from "../engine/types.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  useReconciler,
  withDrift,
} from "../reconciler.test-support.js";

const STACK = "urn:pulumi:dev::site::pulumi:pulumi:Stack::site-dev";
// planOf names its steps `urn:pulumi:dev::site::<type>::r<i>`.
const FILE = "urn:pulumi:dev::site::test:index:File::r0";
const state: StateResource[] = [
  { urn: STACK, type: "pulumi:pulumi:Stack", custom: false },
  { urn: FILE, type: "test:index:File", custom: true, parent: STACK, outputs: { content: "secret-ish" } },
];

describe("the inventory a run stores", () => {
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create } = useReconciler((h) => {
    engine = h.engine;
    source = h.source;
  });

  it("stores the state's resources after a run that reached the engine, with the run that changed each", async () => {
    engine.resources = async () => state;
    engine.plan = planOf(1, ["update", "test:index:File"]);
    const r = await create();
    expect(await r.resources("site")).toBeUndefined();
    const applied = await r.reconcile("site");
    expect(applied.result).toBe("applied");
    const inventory = await r.resources("site");
    expect(inventory).toMatchObject({ target: "site", runId: applied.id, revision: REV_A });
    expect(inventory?.resources.map((e) => [e.name, e.sync, e.lastChange?.runId])).toEqual([
      ["site-dev", "synced", undefined],
      ["r0", "synced", applied.id],
    ]);
    expect(JSON.stringify(inventory)).not.toContain("secret-ish");

    // A skipped check reads nothing; a later run keeps who changed what.
    expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
    engine.plan = planOf(2);
    source.revision = REV_B;
    const unchanged = await r.reconcile("site");
    expect(unchanged.result).toBe("unchanged");
    const later = await r.resources("site");
    expect(later?.runId).toBe(unchanged.id);
    expect(later?.resources.find((e) => e.urn === FILE)?.lastChange).toMatchObject({ runId: applied.id });
  });

  it("marks drift a detect target found with its paths", async () => {
    engine.resources = async () => state;
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    const r = await create({ targets: [spec({ mode: "detect" })] });
    expect((await r.reconcile("site")).result).toBe("drift-detected");
    expect((await r.resources("site"))?.resources.find((e) => e.urn === FILE)?.sync).toBe("drifted");
  });

  it("marks the resource the engine reported an error on as failed", async () => {
    engine.resources = async () => state;
    engine.plan = planOf(1, ["update", "test:index:File"]);
    engine.up = async (_request, options) => {
      options?.onProgress?.({ kind: "diagnostic", severity: "error", message: "disk full\n", urn: FILE });
      throw new Error("update failed");
    };
    const r = await create();
    expect((await r.reconcile("site")).result).toBe("failed");
    expect((await r.resources("site"))?.resources.find((e) => e.urn === FILE)).toMatchObject({
      sync: "failed",
      error: "disk full",
    });
  });

  it("keeps the previous inventory when the state cannot be read, and the run's result stands", async () => {
    engine.resources = async () => state;
    engine.plan = planOf(1, ["update", "test:index:File"]);
    const r = await create();
    const first = await r.reconcile("site");
    engine.resources = async () => {
      throw new Error("the backend is away");
    };
    source.revision = REV_B;
    const second = await r.reconcile("site");
    expect(second.result).toBe("applied");
    expect((await r.resources("site"))?.runId).toBe(first.id);
  });

  it("keeps no inventory with an engine that cannot read its state", async () => {
    const r = await create();
    expect((await r.reconcile("site")).result).toBe("unchanged");
    expect(await r.resources("site")).toBeUndefined();
    await expect(r.resources("nope")).rejects.toThrow(/nope/);
  });

  it("reads the state once for a run that pins its plan to it and then stores the inventory", async () => {
    const reads: string[] = [];
    engine.state = async () => {
      reads.push("state");
      return { version: "v1", resources: state };
    };
    engine.plan = planOf(2);
    const r = await create({ targets: [spec({ refresh: false })] });
    expect((await r.reconcile("site")).result).toBe("unchanged");
    expect(reads).toHaveLength(1);
    expect((await r.resources("site"))?.resources.map((e) => e.name)).toEqual(["site-dev", "r0"]);

    // A plan held for approval is pinned to that same read.
    engine.plan = planOf(1, ["update", "test:index:File"]);
    source.revision = REV_B;
    r.addTarget(spec({ refresh: false, requireApproval: true }));
    const held = await r.reconcile("site", { trigger: "manual" });
    expect(held.result).toBe("awaiting-approval");
    expect((await r.status("site")).awaitingApproval?.stateVersion).toBe("v1");
    expect(reads).toHaveLength(2);
    expect((await r.resources("site"))?.resources.find((e) => e.urn === FILE)?.sync).toBe("pending");
  });

  it("reads the state again after an up, for the inventory", async () => {
    engine.state = async () => ({ version: "v1", resources: state });
    engine.plan = planOf(1, ["update", "test:index:File"]);
    const r = await create({ targets: [spec({ refresh: false })] });
    let reads = 0;
    const read = engine.state;
    engine.state = async (request) => {
      reads++;
      return read(request);
    };
    const applied = await r.reconcile("site");
    expect(applied.result).toBe("applied");
    // Before the preview (the plan's pin), before the up (did it move?), after the up (the inventory).
    expect(reads).toBe(3);
    expect((await r.resources("site"))?.resources.find((e) => e.urn === FILE)?.lastChange?.runId).toBe(
      applied.id,
    );
  });

  it("rebuilds the inventory on demand from the state as it is now, keeping the last run's sync states", async () => {
    const DEPLOY = "urn:pulumi:dev::site::kubernetes:apps/v1:Deployment::web";
    const deployment = (available: number): StateResource => ({
      urn: DEPLOY,
      type: "kubernetes:apps/v1:Deployment",
      custom: true,
      parent: STACK,
      outputs: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "apps", generation: 1 },
        spec: { replicas: 2 },
        status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: available },
      },
    });
    let live = [...state, deployment(1)];
    engine.resources = async () => live;
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    const r = await create({ targets: [spec({ mode: "detect" })] });
    expect(await r.readInventory("site")).toBeUndefined();
    const run = await r.reconcile("site");
    const before = await r.resources("site");
    expect(before?.resources.find((e) => e.urn === DEPLOY)?.health.status).toBe("Progressing");

    live = [...state, deployment(2)];
    const calls = engine.calls.length;
    const fresh = await r.readInventory("site");
    expect(engine.calls.length).toBe(calls);
    expect(fresh).toMatchObject({ runId: run.id, revision: REV_A });
    expect(fresh?.resources.find((e) => e.urn === DEPLOY)?.health).toEqual({
      status: "Healthy",
      reason: "2/2 replicas available",
    });
    expect(fresh?.resources.find((e) => e.urn === FILE)?.sync).toBe("drifted");
    expect(await r.resources("site")).toEqual(fresh);
    await expect(r.readInventory("nope")).rejects.toThrow(/nope/);
  });

  it("reads health from the objects a preview's refresh read, unless an up wrote the state since", async () => {
    const DEPLOY = "urn:pulumi:dev::site::kubernetes:apps/v1:Deployment::r0";
    const deployment = (available: number) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "apps", generation: 1 },
      spec: { replicas: 2 },
      status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: available },
    });
    engine.resources = async () => [
      ...state,
      { urn: DEPLOY, type: "kubernetes:apps/v1:Deployment", custom: true, outputs: deployment(2) },
    ];
    // The refresh inside the preview read one replica gone; the checkpoint still says two.
    const refreshed = {
      ...planOf(1, ["update", "kubernetes:apps/v1:Deployment"]),
      live: new Map([[DEPLOY, deployment(1)]]),
    };
    engine.plan = { ...withDrift(refreshed, 0), live: refreshed.live };
    const health = async (r: Awaited<ReturnType<typeof create>>) =>
      (await r.resources("site"))?.resources.find((e) => e.urn === DEPLOY)?.health;
    const detect = await create({ targets: [spec({ mode: "detect" })] });
    expect((await detect.reconcile("site")).result).toBe("drift-detected");
    expect(await health(detect)).toEqual({
      status: "Progressing",
      reason: "1 of 2 updated replicas available",
    });

    // An apply's up wrote the state after that refresh: the checkpoint is the newer view.
    detect.addTarget(spec());
    expect((await detect.reconcile("site", { trigger: "manual" })).result).toBe("drift-corrected");
    expect(await health(detect)).toEqual({ status: "Healthy", reason: "2/2 replicas available" });
  });

  it("hands no live object a ref preview's refresh read to its caller", async () => {
    engine.plan = {
      ...planOf(1, ["update", "test:index:File"]),
      live: new Map([[FILE, { content: "live" }]]),
    };
    const r = await create();
    const preview = await r.previewRef("site", "refs/heads/feature");
    expect(preview.plan.steps).toHaveLength(1);
    expect(preview.plan).not.toHaveProperty("live");
  });
});
