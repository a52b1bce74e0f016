import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  useReconciler,
} from "./reconciler.test-support.js";

describe("one refresh per apply", () => {
  let dir: string;
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create } = useReconciler((h) => {
    ({ dir, engine, source } = h);
  });

  it("refreshes a new revision once, then previews and applies the saved plan without refreshing again", async () => {
    engine.refreshing();
    const previewed = engine.preview.bind(engine);
    engine.preview = async (request, options) => {
      if (options?.savePlan) writeFileSync(options.savePlan, "{}");
      return previewed(request, options);
    };
    const r = await create();
    engine.plan = planOf(1, ["create", "test:index:File"]);
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run).toMatchObject({ result: "applied", revision: REV_A, drift: false });
    expect(engine.ops()).toEqual(["refresh", "preview", "up"]);
    const [, preview, up] = engine.calls;
    expect(preview?.options?.refresh).toBe(false);
    expect(preview?.options?.savePlan).toMatch(/plans\/site\/.+\.json$/);
    expect(up?.options?.refresh).toBe(false);
    expect(up?.options?.plan).toBe(preview?.options?.savePlan);
    // The plan goes with the run that made it.
    expect(readdirSync(join(dir, "data", "plans", "site"))).toEqual([]);
  });

  it("reports what the refresh found as drift when the preview would undo it", async () => {
    const plan = planOf(1, ["update", "test:index:File"]);
    engine.refreshing([plan.steps[0] as { urn: string; type: string }]);
    engine.plan = plan;
    const r = await create();
    const run = await r.reconcile("site", { trigger: "webhook", force: false });
    expect(run).toMatchObject({ result: "drift-corrected", drift: true });
  });

  it("checks an applied revision for drift in one refreshing preview, and refreshes the up again only when it changes", async () => {
    engine.refreshing();
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
    expect(engine.calls.map((c) => [c.options?.refresh, c.options?.plan])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
  });

  it("never keeps refreshed state in detect mode", async () => {
    engine.refreshing();
    const r = await create({ targets: [spec({ mode: "detect" })] });
    source.revision = REV_B;
    await r.reconcile("site");
    expect(engine.ops()).toEqual(["preview"]);
    expect(engine.calls[0]?.options?.refresh).toBe(true);
    expect(existsSync(join(dir, "data", "plans", "site"))).toBe(false);
  });

  it("holds a target without refresh to the previewed plan too", async () => {
    const r = await create({ targets: [spec({ refresh: false })] });
    engine.plan = planOf(1, ["create", "test:index:File"]);
    await r.reconcile("site");
    expect(engine.ops()).toEqual(["preview", "up"]);
    const [preview, up] = engine.calls;
    expect(preview?.options?.refresh).toBe(false);
    expect(up?.options?.plan).toBe(preview?.options?.savePlan);
  });
});
