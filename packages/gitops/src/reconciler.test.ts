import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { StackRequest } from "./engine/types.js";
import { RetryableError, SpecError, StalledError } from "./errors.js";
import type { QueuedRun } from "./options.js";
import { Reconciler } from "./reconciler.js";
import {
  counts,
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  until,
  useReconciler,
  withDrift,
  within,
} from "./reconciler.test-support.js";
import { PROVENANCE_ENV } from "./run/stackRequest.js";
import { SqliteStore } from "./store/sqlite/store.js";
import type { TargetStatus } from "./types.js";

describe("Reconciler", () => {
  let dir: string;
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create, eventsNamed } = useReconciler((h) => {
    ({ dir, engine, source } = h);
  });

  describe("create", () => {
    it("rejects two targets with the same name", async () => {
      await expect(
        Reconciler.create({
          dataDir: dir,
          engine,
          source,
          store: new SqliteStore(":memory:"),
          targets: [spec(), spec({ stack: "prod" })],
        }),
      ).rejects.toThrowError(/target "site": `name` is used by more than one target/);
    });

    it.each([[0], [-1], [1.5], [Number.NaN]])("rejects a concurrency of %d", async (concurrency) => {
      const attempt = Reconciler.create({ dataDir: dir, engine, source, concurrency });
      await expect(attempt).rejects.toBeInstanceOf(SpecError);
      await expect(attempt).rejects.toThrowError(
        new RegExp(`\`concurrency\` must be a whole number of at least 1, got ${concurrency}`),
      );
    });

    it.each([[-1], [2.5]])("rejects a cancelGraceMs of %d", async (cancelGraceMs) => {
      await expect(Reconciler.create({ dataDir: dir, source, cancelGraceMs })).rejects.toThrowError(
        new RegExp(
          `\`cancelGraceMs\` must be a whole number of milliseconds of at least 0, got ${cancelGraceMs}`,
        ),
      );
    });

    it("rejects a missing data directory and a bad target spec", async () => {
      await expect(Reconciler.create({ dataDir: "", engine, source })).rejects.toThrowError(/`dataDir`/);
      await expect(
        Reconciler.create({
          dataDir: dir,
          engine,
          source,
          store: new SqliteStore(":memory:"),
          targets: [spec({ interval: "1s" })],
        }),
      ).rejects.toThrowError(/`interval` must be at least 10s.*got "1s"/);
    });
  });

  describe("deciding whether to run the engine", () => {
    it("skips the engine when the revision is unchanged, and a manual run forces it", async () => {
      const r = await create();
      const first = await r.reconcile("site");
      expect(first.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["preview"]);

      const again = await r.reconcile("site", { trigger: "interval", force: false });
      expect(again.result).toBe("skipped");
      expect(engine.calls).toHaveLength(1);
      expect(source.resolves).toBe(2);
      // A skip is not history.
      expect((await r.history("site")).map((h) => h.id)).toEqual([first.id]);

      const manual = await r.reconcile("site");
      expect(manual.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["preview", "preview"]);
    });

    it("applies a new revision and hands the engine everything the target declares", async () => {
      const r = await create({
        targets: [
          spec({
            path: "stacks/site",
            config: { replicas: 2 },
            secretConfig: { apiToken: "tok-secret-value" },
            env: { EXTRA: "1" },
          }),
        ],
      });
      engine.plan = planOf(1, ["create", "test:index:File"]);
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run).toMatchObject({ result: "applied", revision: REV_A, trigger: "webhook", drift: false });
      expect(engine.ops()).toEqual(["preview", "up"]);
      const request = engine.calls[0]?.request as StackRequest;
      expect(request.workDir).toBe(join(dir, "data", "work", "site", "stacks", "site"));
      expect(request.stack).toBe("dev");
      expect(request.backend).toBe(`file://${join(dir, "data")}/state`);
      expect(request.config).toEqual({ replicas: "2" });
      expect(request.secretConfig).toEqual({ apiToken: "tok-secret-value" });
      expect(request.env).toMatchObject({
        EXTRA: "1",
        PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
        [PROVENANCE_ENV.commit]: REV_A,
        [PROVENANCE_ENV.repo]: "https://example.com/infra.git",
        [PROVENANCE_ENV.path]: "stacks/site",
      });
      expect(engine.calls[0]?.options?.refresh).toBe(true);
      expect(source.checkouts[0]).toMatchObject({ ref: "main", revision: REV_A, previous: undefined });

      const status = await r.status("site");
      expect(status.lastAppliedRevision).toBe(REV_A);
      expect(status.outputs).toEqual({ url: "https://site" });
      expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: true,
        reason: "Applied",
      });
      expect(eventsNamed("revision.applied")).toEqual([{ target: "site", revision: REV_A }]);

      // The next revision is checked out against the applied one, so a rewrite is caught.
      source.revision = REV_B;
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("applied");
      expect(source.checkouts[1]).toMatchObject({ revision: REV_B, previous: REV_A });
    });

    it("runs an unchanged revision again when a resync is due", async () => {
      const r = await create({ targets: [spec({ resync: "10s" })] });
      await r.reconcile("site");
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      // Pretend the last drift check was long ago.
      const store = new SqliteStore(join(dir, "data", "driftless.db"));
      const status = await store.getStatus("site");
      await store.putStatus({
        ...(status as NonNullable<typeof status>),
        lastDriftCheckAt: "2000-01-01T00:00:00.000Z",
      });
      store.close();
      expect((await r.reconcile("site", { trigger: "resync", force: false })).result).toBe("unchanged");
      expect(engine.count("preview")).toBe(2);
    });

    it("reports a scheduled check that only resyncs with the resync trigger", async () => {
      const r = await create({ targets: [spec({ resync: "10s" })] });
      await r.reconcile("site");
      const store = new SqliteStore(join(dir, "data", "driftless.db"));
      const status = (await store.getStatus("site")) as TargetStatus;
      await store.putStatus({ ...status, lastDriftCheckAt: "2000-01-01T00:00:00.000Z" });
      store.close();
      const run = await r.reconcile("site", { trigger: "interval", force: false });
      expect(run).toMatchObject({ result: "unchanged", trigger: "resync" });
      expect((await r.history("site", 1))[0]?.trigger).toBe("resync");
      expect(eventsNamed("run.started").at(-1)).toMatchObject({ trigger: "resync" });
      // A new revision on the same tick is no resync.
      source.revision = REV_B;
      expect(await r.reconcile("site", { trigger: "interval", force: false })).toMatchObject({
        revision: REV_B,
        trigger: "interval",
      });
    });

    it("keeps deciding while runs wait for an engine slot", async () => {
      // More targets with work than runs may decide at once (32), one engine slot.
      const names = Array.from({ length: 40 }, (_, i) => `t${i}`);
      const r = await create({ concurrency: 1, targets: names.map((name) => spec({ name, stack: name })) });
      engine.hold = true;
      const runs = await Promise.all(
        names.map((name) => r.request(name, { trigger: "webhook", force: true })),
      );
      await until(() => engine.held.length === 1, "the first run to reach the engine");
      // Runs waiting for the slot have decided and free their decision slot for the rest.
      let decisions = 0;
      await until(() => {
        decisions += r.takeSchedulerStats().decisions;
        return decisions === names.length;
      }, "every target to be decided");
      expect(engine.held).toHaveLength(1);
      engine.hold = false;
      engine.release();
      const records = await Promise.all(runs.map((q) => q.done));
      expect(records.every((rec) => rec.result === "applied" || rec.result === "unchanged")).toBe(true);
    });
  });

  describe("queueing", () => {
    it("coalesces requests during a run into one queued run, losing none", async () => {
      const r = await create();
      engine.hold = true;
      const running = await r.request("site");
      await until(() => engine.held.length === 1, "the first preview");
      const second = await r.request("site", { trigger: "webhook", force: false });
      const third = await r.request("site");
      expect(third.id).toBe(second.id);
      expect(second.id).not.toBe(running.id);
      expect(r.queueDepth).toBe(1);

      engine.release();
      expect((await running.done).result).toBe("unchanged");
      await until(() => engine.held.length === 1, "the queued preview");
      engine.release();
      const queued = await second.done;
      // The queued run took the strongest request: forced, so it ran despite the unchanged revision.
      expect(queued.result).toBe("unchanged");
      expect(await third.done).toEqual(queued);
      expect(engine.count("preview")).toBe(2);
      expect((await r.history("site")).map((h) => h.id).sort()).toEqual([running.id, second.id].sort());
    });

    it("runs targets one after another, in arrival order, with concurrency 1", async () => {
      const r = await create({
        concurrency: 1,
        targets: [spec({ name: "a" }), spec({ name: "b", stack: "b" }), spec({ name: "c", stack: "c" })],
      });
      engine.hold = true;
      const order = ["c", "a", "b"];
      const runs: QueuedRun[] = [];
      for (const name of order) runs.push(await r.request(name));
      const started: string[] = [];
      for (let i = 0; i < order.length; i++) {
        await until(() => engine.held.length === 1, `preview ${i + 1}`);
        // Only one run at a time.
        await new Promise((res) => setTimeout(res, 20));
        expect(engine.held).toHaveLength(1);
        started.push(engine.held[0]?.call.request.workDir.split("/").at(-1) as string);
        engine.release();
        await runs[i]?.done;
      }
      expect(started).toEqual(order);
      expect(r.queueDepth).toBe(0);
    });
  });

  describe("modes", () => {
    it("reports drift in detect mode and never applies", async () => {
      const r = await create({ targets: [spec({ mode: "detect" })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
      engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
      const run = await r.reconcile("site");
      expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: REV_A });
      expect(engine.count("up")).toBe(0);
      expect(eventsNamed("drift.detected")).toEqual([
        { target: "site", revision: REV_A, counts: counts({ update: 1, same: 1 }) },
      ]);
      expect((await r.status("site")).conditions.find((c) => c.type === "Drifted")).toMatchObject({
        status: true,
        reason: "DriftDetected",
      });
    });

    it("reports drift already there when a detect target is added, without an applied revision", async () => {
      const r = await create({ targets: [spec({ mode: "detect" })] });
      // The stack was edited by hand before the target existed; the target never applied.
      engine.plan = withDrift(planOf(1, ["update", "test:index:File"]), 0);
      const run = await r.reconcile("site", { trigger: "startup", force: false });
      expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: REV_A });
      expect(eventsNamed("drift.detected")).toEqual([
        { target: "site", revision: REV_A, counts: counts({ update: 1, same: 1 }) },
      ]);
      const status = await r.status("site");
      expect(status.conditions.find((c) => c.type === "Drifted")).toMatchObject({ status: true });
      expect(status.lastAppliedRevision).toBeUndefined();
      expect(status.pendingChanges).toBeUndefined();
      expect(engine.count("up")).toBe(0);
    });

    it("reports drift and changes from Git apart when a commit lands on a drifted stack", async () => {
      const r = await create({ targets: [spec({ mode: "detect" })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
      source.revision = REV_B;
      // Refresh found the first resource changed by hand; the commit changes the second.
      engine.plan = withDrift(planOf(0, ["update", "test:index:File"], ["update", "test:index:Page"]), 0);
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run).toMatchObject({ result: "drift-detected", drift: true, revision: REV_B });
      expect(run.log).toMatch(/drift in 1 resource\(s\); changes from Git not yet applied/);
      const status = await r.status("site");
      expect(status.conditions.find((c) => c.type === "Drifted")?.status).toBe(true);
      expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: true,
        reason: "ChangesPending",
      });
      expect(status.pendingChanges).toEqual({ revision: REV_B });
      expect(eventsNamed("drift.detected")).toHaveLength(1);
      // Only the Git change left: no drift, still pending.
      engine.plan = withDrift(planOf(1, ["update", "test:index:Page"]));
      const quiet = await r.reconcile("site");
      expect(quiet).toMatchObject({ result: "planned", drift: false });
      expect((await r.status("site")).conditions.find((c) => c.type === "Drifted")?.status).toBe(false);
      expect((await r.status("site")).pendingChanges).toEqual({ revision: REV_B });
    });

    it("never shows an applied revision for a detect target", async () => {
      const r = await create({ targets: [spec({ mode: "detect" })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
      const status = await r.status("site");
      expect(status.lastAppliedRevision).toBeUndefined();
      expect(status.lastAppliedAt).toBeUndefined();
      expect(status.lastAttemptedRevision).toBe(REV_A);
      expect(status.conditions.find((c) => c.type === "Ready")?.status).toBe(true);
      // Unchanged and checked: the next scheduled check skips the engine.
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
    });

    it("corrects drift in apply mode", async () => {
      const r = await create();
      await r.reconcile("site");
      engine.plan = planOf(1, ["update", "test:index:File"]);
      const run = await r.reconcile("site");
      expect(run).toMatchObject({ result: "drift-corrected", drift: true });
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      expect(eventsNamed("drift.detected")).toHaveLength(1);
    });

    it("only plans in preview mode", async () => {
      const r = await create({ targets: [spec({ mode: "preview", refresh: false })] });
      engine.plan = planOf(0, ["create", "test:index:File"]);
      expect((await r.reconcile("site")).result).toBe("planned");
      expect(engine.ops()).toEqual(["preview"]);
      expect(engine.calls[0]?.options?.refresh).toBe(false);
    });
  });

  describe("retries and cancellation", () => {
    it("retries a retryable failure with the retry trigger", async () => {
      const r = await create({ retryBaseMs: 10, retryMaxMs: 20 });
      engine.previewErrors.push(new RetryableError("the stack is locked by another update"));
      r.start();
      await until(() => eventsNamed("run.finished").length >= 2, "the retry");
      const finished = eventsNamed("run.finished");
      expect(finished[0]).toMatchObject({ result: "failed", error: "the stack is locked by another update" });
      expect(finished[1]).toMatchObject({ result: "unchanged" });
      expect(eventsNamed("run.started").map((e) => e.trigger)).toEqual(["startup", "retry"]);
      expect((await r.status("site")).conditions.find((c) => c.type === "Ready")?.status).toBe(true);
    });

    it("does not retry without the scheduler", async () => {
      const r = await create({ retryBaseMs: 10, retryMaxMs: 20 });
      engine.previewErrors.push(new RetryableError("busy"));
      expect((await r.reconcile("site")).result).toBe("failed");
      await new Promise((res) => setTimeout(res, 100));
      expect(engine.count("preview")).toBe(1);
    });

    it("cancels a run that exceeds its timeout through the engine's signal", async () => {
      const r = await create({ targets: [spec({ timeout: "1s" })] });
      engine.hold = true;
      const started = Date.now();
      const run = await r.reconcile("site");
      expect(run.result).toBe("cancelled");
      expect(run.error).toMatch(/exceeded its timeout of 1s/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(engine.calls[0]?.signal?.aborted).toBe(true);
      expect((await r.status("site")).conditions.find((c) => c.type === "Ready")?.reason).toBe("Cancelled");
    });

    it("cancels a run through the caller's AbortSignal", async () => {
      const r = await create();
      engine.hold = true;
      const controller = new AbortController();
      const queued = await r.request("site", { signal: controller.signal });
      await until(() => engine.held.length === 1, "the preview");
      controller.abort(new Error("user cancelled"));
      expect((await queued.done).result).toBe("cancelled");
    });

    it("cancels in-flight runs when stop's grace period ends", async () => {
      const r = await create();
      engine.hold = true;
      const queued = await r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const signal = engine.held[0]?.call.signal as AbortSignal;
      const clean = await r.stop({ graceMs: 50 });
      expect(clean).toBe(false);
      expect(signal.aborted).toBe(true);
      expect((await queued.done).result).toBe("cancelled");
      expect(await r.isReady()).toBe(false);
      await expect(r.request("site")).rejects.toThrowError(/stopped/);
    });

    it("settles a queued run as skipped on stop instead of starting it", async () => {
      const r = await create();
      engine.hold = true;
      const running = await r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const queued = await r.request("site");
      const stopping = r.stop({ graceMs: 5000 });
      engine.hold = false;
      engine.release();
      expect(await stopping).toBe(true);
      expect((await running.done).result).toBe("unchanged");
      const settled = await within(queued.done, 1000);
      expect(settled).not.toBe("pending");
      expect(settled).toMatchObject({ result: "skipped" });
      expect(engine.count("preview")).toBe(1);
    });
  });

  describe("removing targets", () => {
    it("destroys the stack on removal with destroyOnRemove", async () => {
      const r = await create({ targets: [spec({ destroyOnRemove: true })] });
      await r.reconcile("site");
      const destroyed = await r.removeTarget("site");
      expect(destroyed?.result).toBe("destroyed");
      expect(engine.ops()).toEqual(["preview", "destroy"]);
      expect(engine.calls[1]?.request.stack).toBe("dev");
      expect(r.targets()).toEqual([]);
      await expect(r.status("site")).rejects.toThrowError(/unknown target "site"/);
    });

    it("leaves the stack alone on removal without destroyOnRemove", async () => {
      const r = await create();
      await r.reconcile("site");
      expect(await r.removeTarget("site")).toBeUndefined();
      expect(engine.count("destroy")).toBe(0);
      expect(r.target("site")).toBeUndefined();
    });

    it("keeps the target when the destroy fails", async () => {
      const r = await create({ targets: [spec({ destroyOnRemove: true })] });
      engine.destroy = async () => {
        throw new StalledError("ProgramFailed", "cannot delete");
      };
      const result = await r.removeTarget("site");
      expect(result?.result).toBe("stalled");
      expect(r.target("site")).toBeDefined();
    });

    it("settles a run still queued for a removed target", async () => {
      const r = await create();
      engine.hold = true;
      const running = await r.request("site");
      await until(() => engine.held.length === 1, "the preview");
      const queued = await r.request("site");
      const removing = r.removeTarget("site");
      engine.hold = false;
      engine.release();
      expect(await removing).toBeUndefined();
      expect((await running.done).result).toBe("unchanged");
      // QueuedRun.done "settles when the run finished; never rejects": it must not hang.
      const settled = await within(queued.done, 1000);
      expect(settled).not.toBe("pending");
      expect(engine.count("preview")).toBe(1);
    });
  });

  describe("crash recovery", () => {
    it("recovers the stack before the next run after a crash mid-run", async () => {
      const dataDir = join(dir, "data");
      // A previous process applied REV_A, then died during a run.
      const crashed = new SqliteStore(join(dataDir, "driftless.db"));
      const now = new Date().toISOString();
      crashed.putStatus({
        name: "site",
        conditions: [],
        lastAppliedRevision: REV_A,
        lastDriftCheckAt: now,
        updatedAt: now,
      });
      crashed.startRun({
        id: "crashed-run",
        target: "site",
        trigger: "interval",
        startedAt: now,
        drift: false,
        log: "",
      });
      crashed.close();

      const r = await create();
      expect(await r.run("crashed-run")).toMatchObject({ result: "interrupted" });
      // Unchanged and recently checked, but the interrupted run forces a run that recovers first.
      const run = await r.reconcile("site", { trigger: "interval", force: false });
      expect(run.result).toBe("unchanged");
      expect(engine.ops()).toEqual(["recover", "preview"]);
      expect(run.log).toMatch(/\[recover\] removed a stale lock/);

      await r.reconcile("site");
      expect(engine.ops()).toEqual(["recover", "preview", "preview"]);
    });

    it("does not recover when the last process finished its runs", async () => {
      const r = await create();
      await r.reconcile("site");
      expect(engine.count("recover")).toBe(0);
    });
  });
});
