// What a run that did not finish leaves for the next start: drift it found,
// the run itself, a retry, the spec it ran with (fake engine and source).
import { describe, expect, it } from "vitest";
import {
  type FakeEngine,
  planOf,
  REV_A,
  until,
  useReconciler,
  withDrift,
} from "./reconciler.test-support.js";
import { condition } from "./status.js";

describe("a run that did not finish", () => {
  let engine: FakeEngine;
  const { create } = useReconciler((h) => {
    ({ engine } = h);
  });

  it("keeps the drift it found through a shutdown, and the next run corrects it as drift", async () => {
    const first = await create();
    expect((await first.reconcile("site")).result).toBe("unchanged");
    // A hand edit: the preview's refresh finds it; the up that would put it back is cut short.
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    engine.hold = true;
    const queued = first.request("site");
    await until(() => engine.held.length === 1, "the preview");
    engine.release();
    await until(() => engine.held.length === 1 && engine.calls.at(-1)?.op === "up", "the up");
    expect(condition(first.status("site"), "Drifted")).toMatchObject({
      status: true,
      reason: "DriftDetected",
    });
    await first.stop({ graceMs: 20 });
    const cancelled = await queued.done;
    expect(cancelled).toMatchObject({ result: "cancelled", drift: true });

    // The up's refresh kept the live values: the next refresh finds nothing changed.
    engine.hold = false;
    engine.plan = { ...planOf(1, ["update", "test:index:File"]), drift: [] };
    const second = await create();
    const status = second.status("site");
    expect(condition(status, "Drifted")).toMatchObject({ status: true, reason: "DriftDetected" });
    expect(status.unresolvedDrift).toMatchObject({ runId: cancelled.id, revision: REV_A });
    expect(second.history("site")[0]).toMatchObject({ id: cancelled.id, drift: true });

    const corrected = await second.reconcile("site");
    expect(corrected).toMatchObject({ result: "drift-corrected", drift: true });
    expect(corrected.log).toMatch(/drift in 1 resource\(s\)/);
    expect(corrected.log).not.toMatch(/configuration or dependency outputs changed/);
    const after = second.status("site");
    expect(condition(after, "Drifted")).toMatchObject({ status: false, reason: "InSync" });
    expect(after.unresolvedDrift).toBeUndefined();
  });

  it("forgets drift that Git adopted: the next plan has nothing to change", async () => {
    const r = await create();
    await r.reconcile("site");
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    engine.hold = true;
    const queued = r.request("site");
    await until(() => engine.held.length === 1, "the preview");
    engine.release();
    await until(() => engine.calls.at(-1)?.op === "up", "the up");
    await r.stop({ graceMs: 20 });
    await queued.done;

    engine.hold = false;
    engine.plan = { ...planOf(2), drift: [] };
    const next = await create();
    expect((await next.reconcile("site")).result).toBe("unchanged");
    expect(condition(next.status("site"), "Drifted")).toMatchObject({ status: false, reason: "InSync" });
    expect(next.status("site").unresolvedDrift).toBeUndefined();
  });
});
