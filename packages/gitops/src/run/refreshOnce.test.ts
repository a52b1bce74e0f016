import { describe, expect, it } from "vitest";
import { PlanDivergedError } from "../errors.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  useReconciler,
} from "../reconciler.test-support.js";

describe("one refresh per apply", () => {
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create } = useReconciler((h) => {
    ({ engine, source } = h);
  });

  it("refreshes a new revision once, then previews and applies without refreshing again", async () => {
    engine.refreshing();
    engine.versioned("s1");
    const r = await create();
    engine.plan = planOf(1, ["create", "test:index:File"]);
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run).toMatchObject({ result: "applied", revision: REV_A, drift: false });
    expect(engine.ops()).toEqual(["refresh", "preview", "up"]);
    const [, preview, up] = engine.calls;
    expect(preview?.options?.refresh).toBe(false);
    expect(up?.options?.refresh).toBe(false);
    expect(up?.options?.plan).toBeUndefined();
    // The up is held to what the preview showed.
    expect(up?.options?.expect).toEqual(engine.plan.steps);
  });

  it("reports what the refresh found as drift when the preview would undo it", async () => {
    const plan = planOf(1, ["update", "test:index:File"]);
    engine.refreshing([plan.steps[0] as { urn: string; type: string }]);
    engine.plan = plan;
    const r = await create();
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run).toMatchObject({ result: "drift-corrected", drift: true });
  });

  it("plans again, without refreshing again, when the state moved between preview and up", async () => {
    engine.refreshing();
    // Before the preview, before the up (moved), before the second preview, before the second up.
    engine.versioned("s1", "s2", "s2");
    const r = await create();
    engine.plan = planOf(1, ["create", "test:index:File"]);
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("applied");
    expect(engine.ops()).toEqual(["refresh", "preview", "preview", "up"]);
    expect(run.log).toContain("the stack's state changed since the preview (s1 → s2); planning again");
  });

  it("stops planning again when the state keeps moving, and fails to be retried", async () => {
    engine.refreshing();
    engine.versioned("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9");
    const r = await create();
    engine.plan = planOf(1, ["create", "test:index:File"]);
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("failed");
    expect(run.error).toMatch(
      /the stack's state changed since the preview \(s\d → s\d\); planned 3 times, will retry/,
    );
    expect(engine.count("up")).toBe(0);
    expect(engine.count("refresh")).toBe(1);
  });

  it("plans again after an up that strayed from its preview was stopped", async () => {
    engine.refreshing();
    const r = await create();
    engine.plan = planOf(1, ["create", "test:index:File"]);
    const up = engine.up.bind(engine);
    let strayed = false;
    engine.up = async (request, options) => {
      const result = await up(request, options);
      if (strayed) return result;
      strayed = true;
      throw new PlanDivergedError("the update was about to delete urn:x, where the preview showed no change");
    };
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run).toMatchObject({ result: "applied" });
    expect(engine.ops()).toEqual(["refresh", "preview", "up", "preview", "up"]);
    expect(run.log).toContain("about to delete urn:x, where the preview showed no change; planning again");
  });

  it("checks an applied revision for drift in one refreshing preview, and refreshes the up again only when it changes", async () => {
    engine.refreshing();
    engine.versioned("s1");
    const r = await create();
    await r.reconcile("site");
    engine.calls.length = 0;
    expect((await r.reconcile("site")).result).toBe("unchanged");
    expect(engine.ops()).toEqual(["preview"]);
    expect(engine.calls[0]?.options?.refresh).toBe(true);

    engine.calls.length = 0;
    engine.plan = planOf(1, ["update", "test:index:File"]);
    expect((await r.reconcile("site")).result).toBe("drift-corrected");
    expect(engine.ops()).toEqual(["preview", "up"]);
    expect(engine.calls.map((c) => c.options?.refresh)).toEqual([true, true]);
  });

  it("never keeps refreshed state in detect mode", async () => {
    engine.refreshing();
    const r = await create({ targets: [spec({ mode: "detect" })] });
    source.revision = REV_B;
    await r.reconcile("site");
    expect(engine.ops()).toEqual(["preview"]);
    expect(engine.calls[0]?.options?.refresh).toBe(true);
  });

  it("checks the state of a target without refresh too", async () => {
    engine.versioned("s1", "s2", "s2");
    const r = await create({ targets: [spec({ refresh: false })] });
    engine.plan = planOf(1, ["create", "test:index:File"]);
    await r.reconcile("site");
    expect(engine.ops()).toEqual(["preview", "preview", "up"]);
    expect(engine.calls.map((c) => c.options?.refresh)).toEqual([false, false, false]);
  });
});
