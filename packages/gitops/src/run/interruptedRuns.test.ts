// What a run that did not finish leaves for the next start: drift it found,
// the run itself, a retry, the spec it ran with (fake engine and source).
import { describe, expect, it } from "vitest";
import { RetryableError, StalledError } from "../errors.js";
import { runPage } from "../http/ui/run.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  until,
  useReconciler,
  withDrift,
} from "../reconciler.test-support.js";
import { condition } from "./status.js";

describe("a run that did not finish", () => {
  let engine: FakeEngine;
  let source: FakeSource;
  const { create, eventsNamed, spec } = useReconciler((h) => {
    ({ engine, source } = h);
  });

  it("keeps the drift it found through a shutdown, and the next run corrects it as drift", async () => {
    const first = await create();
    expect((await first.reconcile("site")).result).toBe("unchanged");
    // A hand edit: the preview's refresh finds it; the up that would put it back is cut short.
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    engine.hold = true;
    const queued = await first.request("site");
    await until(() => engine.held.length === 1, "the preview");
    engine.release();
    await until(() => engine.held.length === 1 && engine.calls.at(-1)?.op === "up", "the up");
    expect(condition(await first.status("site"), "Drifted")).toMatchObject({
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
    const status = await second.status("site");
    expect(condition(status, "Drifted")).toMatchObject({ status: true, reason: "DriftDetected" });
    expect(status.unresolvedDrift).toMatchObject({ runId: cancelled.id, revision: REV_A });
    expect((await second.history("site"))[0]).toMatchObject({ id: cancelled.id, drift: true });

    const corrected = await second.reconcile("site");
    expect(corrected).toMatchObject({ result: "drift-corrected", drift: true });
    expect(corrected.log).toMatch(/drift in 1 resource\(s\)/);
    expect(corrected.log).not.toMatch(/configuration or dependency outputs changed/);
    const after = await second.status("site");
    expect(condition(after, "Drifted")).toMatchObject({ status: false, reason: "InSync" });
    expect(after.unresolvedDrift).toBeUndefined();
  });

  it("forgets drift that Git adopted: the next plan has nothing to change", async () => {
    const r = await create();
    await r.reconcile("site");
    engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
    engine.hold = true;
    const queued = await r.request("site");
    await until(() => engine.held.length === 1, "the preview");
    engine.release();
    await until(() => engine.calls.at(-1)?.op === "up", "the up");
    await r.stop({ graceMs: 20 });
    await queued.done;

    engine.hold = false;
    engine.plan = { ...planOf(2), drift: [] };
    const next = await create();
    expect((await next.reconcile("site")).result).toBe("unchanged");
    expect(condition(await next.status("site"), "Drifted")).toMatchObject({
      status: false,
      reason: "InSync",
    });
    expect((await next.status("site")).unresolvedDrift).toBeUndefined();
  });

  it("runs again at the next start after a shutdown cancelled it", async () => {
    const first = await create();
    expect((await first.reconcile("site")).result).toBe("unchanged");
    engine.plan = planOf(1, ["update", "test:index:File"]);
    engine.hold = true;
    const queued = await first.request("site");
    await until(() => engine.held.length === 1, "the preview");
    await first.stop({ graceMs: 20 });
    expect((await queued.done).result).toBe("cancelled");

    engine.hold = false;
    const second = await create();
    expect(condition(await second.status("site"), "Ready")).toMatchObject({
      status: false,
      reason: "Cancelled",
    });
    second.start();
    await until(() => eventsNamed("run.finished").length >= 3, "the startup run", 3000);
    expect(eventsNamed("run.finished").at(-1)).toMatchObject({ result: "drift-corrected" });
    expect(eventsNamed("run.started").at(-1)).toMatchObject({ trigger: "startup" });
    expect(condition(await second.status("site"), "Ready")).toMatchObject({ status: true });
  });

  it("clears a stall when the ref moves back to the applied revision", async () => {
    const r = await create();
    expect((await r.reconcile("site")).result).toBe("unchanged");
    source.revision = REV_B;
    engine.previewErrors.push(new StalledError("ProgramFailed", "the program threw"));
    expect((await r.reconcile("site", { trigger: "webhook", force: false })).result).toBe("stalled");
    // The broken commit is dropped: the ref points at the applied revision again.
    source.revision = REV_A;
    const back = await r.reconcile("site", { trigger: "interval", force: false });
    expect(back).toMatchObject({ result: "unchanged", revision: REV_A });
    expect(back.log).not.toMatch(/changes from Git/);
    const status = await r.status("site");
    expect(condition(status, "Stalled")).toMatchObject({ status: false });
    expect(status.stalledRevision).toBeUndefined();
  });

  it("retries a failed run after a restart, when its retry was due", async () => {
    const first = await create({ retryBaseMs: 400, retryMaxMs: 400 });
    first.start();
    await until(() => eventsNamed("run.finished").length === 1, "the startup run");
    engine.previewErrors.push(new RetryableError("the cloud API answered 503"));
    expect((await first.reconcile("site")).result).toBe("failed");
    await until(async () => (await first.status("site")).retryAt !== undefined, "the stored retry");
    const retryAt = (await first.status("site")).retryAt;
    await first.stop({ graceMs: 20 });

    const second = await create({ retryBaseMs: 400, retryMaxMs: 400 });
    second.start();
    await until(() => eventsNamed("run.started").some((e) => e.trigger === "retry"), "the retry", 3000);
    await second.whenIdle();
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(retryAt as string));
    expect(condition(await second.status("site"), "Ready")).toMatchObject({ status: true });
    expect((await second.status("site")).retryAt).toBeUndefined();
  });

  it("runs at start when the spec changed, so a fixed repository URL clears the old failure", async () => {
    const first = await create({ targets: [spec({ repo: "https://example.com/gone.git" })] });
    expect((await first.reconcile("site")).result).toBe("unchanged");
    const resolve = source.resolve.bind(source);
    source.resolve = async () => {
      throw new Error("could not read from https://example.com/gone.git: connection refused");
    };
    expect((await first.reconcile("site")).result).toBe("failed");
    await first.stop({ graceMs: 20 });

    source.resolve = resolve;
    const second = await create({ targets: [spec({ repo: "https://example.com/infra.git" })] });
    second.start();
    await until(() => eventsNamed("run.finished").length >= 3, "the startup run", 3000);
    expect(eventsNamed("run.started").at(-1)).toMatchObject({ trigger: "startup" });
    expect(condition(await second.status("site"), "Ready")).toMatchObject({ status: true });

    // An unchanged spec and revision still skip the engine.
    const again = await second.reconcile("site", { trigger: "interval", force: false });
    expect(again.result).toBe("skipped");
  });

  it("says drift is Unknown, not InSync, after runs that checked nothing", async () => {
    const r = await create();
    const checked = await r.reconcile("site");
    const checkedAt = (await r.status("site")).lastDriftCheckAt as string;
    expect(condition(await r.status("site"), "Drifted")).toMatchObject({ status: false, reason: "InSync" });

    // A program that does not run: no preview finished.
    source.revision = REV_B;
    engine.previewErrors.push(new StalledError("ProgramFailed", "the program threw"));
    const stalled = await r.reconcile("site");
    expect(stalled.result).toBe("stalled");
    expect(condition(await r.status("site"), "Drifted")).toMatchObject({
      status: "Unknown",
      reason: "NotChecked",
      message: expect.stringContaining(`not checked since ${checkedAt}`),
    });
    const view = { base: "/ui", session: undefined, canAct: false };
    expect(runPage(view, stalled).toString()).toContain(
      "not checked: the run ended before its preview finished",
    );
    expect(runPage(view, checked).toString()).toContain("<dd>none found</dd>");

    // A preview that finished checks again.
    expect((await r.reconcile("site")).result).toBe("unchanged");
    expect(condition(await r.status("site"), "Drifted")).toMatchObject({ status: false, reason: "InSync" });
  });
});
