import { join } from "node:path";
import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { type FakeEngine, planOf, REV_A, until, useReconciler } from "../reconciler.test-support.js";
import { SqliteStore } from "../store/sqlite/store.js";

describe("Reconciler change windows", () => {
  let dir: string;
  let engine: FakeEngine;
  const { spec, create } = useReconciler((h) => {
    ({ dir, engine } = h);
  });

  describe("change windows", () => {
    // Open for one minute a year: any test run is outside it.
    const newYear = { allow: ["0 0 1 1 *"], duration: "1m", timezone: "UTC" };

    it("defers an up outside the change window until it opens, after the preview", async () => {
      const r = await create({ targets: [spec({ windows: newYear })] });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run.result).toBe("deferred");
      expect(run.log).toMatch(/outside the allow windows; changes wait until/);
      expect(engine.ops()).toEqual(["preview"]);
      const opensAt = new Cron("0 0 1 1 *", { timezone: "UTC", paused: true }).nextRun() as Date;
      const status = await r.status("site");
      expect(status.deferredUntil).toBe(opensAt.toISOString());
      expect(status.conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: false,
        reason: "OutsideChangeWindow",
      });
      expect((await r.history("site"))[0]).toMatchObject({ result: "deferred", counts: { update: 1 } });
      // Checks of the same revision wait for the window instead of planning again.
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.ops()).toEqual(["preview"]);
    });

    it("does not defer a plan without changes", async () => {
      const r = await create({ targets: [spec({ windows: newYear })] });
      expect((await r.reconcile("site")).result).toBe("unchanged");
    });

    it("applies outside the window with an override and records who and why", async () => {
      const r = await create({ targets: [spec({ windows: { deny: ["* * * * *"], duration: "1h" } })] });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const override = { by: "alice", reason: "hotfix" };
      const run = await r.reconcile("site", { override });
      expect(run).toMatchObject({ result: "applied", override });
      expect(run.log).toMatch(/change window overridden by alice: hotfix/);
      expect((await r.history("site"))[0]?.override).toEqual(override);
      expect(engine.ops()).toEqual(["preview", "up"]);
      await expect(r.request("site", { override: { by: "bob", reason: " " } })).rejects.toThrowError(
        /`override` must say who \(`by`\) and why \(`reason`\)/,
      );
    });

    it("keeps a deferred change's window timer across a restart", async () => {
      const store = new SqliteStore(join(dir, "restart.db"));
      await store.putStatus({
        name: "site",
        conditions: [],
        lastAttemptedRevision: REV_A,
        deferredUntil: new Date(Date.now() + 200).toISOString(),
        updatedAt: new Date().toISOString(),
      });
      const r = await create({ store });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      r.start();
      await until(
        async () => (await r.history("site"))[0]?.result === "applied",
        "the run at the window",
        4000,
      );
      expect((await r.history("site")).map((run) => run.trigger)).toEqual(["schedule"]);
    });

    it("keeps the window timer when the spec is replaced, and skips it while suspended", async () => {
      const deferred = async (file: string, inMs: number) => {
        const store = new SqliteStore(join(dir, file));
        await store.putStatus({
          name: "site",
          conditions: [],
          lastAttemptedRevision: REV_A,
          deferredUntil: new Date(Date.now() + inMs).toISOString(),
          updatedAt: new Date().toISOString(),
        });
        return store;
      };
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      const r = await create({ store: await deferred("replaced.db", 300) });
      r.start();
      r.addTarget(spec());
      await until(
        async () => (await r.history("site"))[0]?.result === "applied",
        "the run at the window",
        4000,
      );
      await r.stop();

      const suspended = await create({
        store: await deferred("suspended.db", 300),
        targets: [spec({ suspend: true })],
      });
      suspended.start();
      await new Promise((resolve) => setTimeout(resolve, 1600));
      expect(await suspended.history("site")).toEqual([]);
    });

    it("runs the deferred change when the window opens", async () => {
      const opens = new Date(Date.now() + 2000);
      const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`;
      const r = await create({
        targets: [spec({ windows: { allow: [cron], duration: "1m", timezone: "UTC" } })],
      });
      engine.plan = planOf(1, ["update", "x:y:Z"]);
      r.start();
      await until(
        async () => (await r.history("site"))[0]?.result === "deferred",
        "the deferred startup run",
      );
      await until(
        async () => (await r.history("site"))[0]?.result === "applied",
        "the run at the window",
        8000,
      );
      expect((await r.history("site"))[0]?.trigger).toBe("schedule");
      expect((await r.status("site")).deferredUntil).toBeUndefined();
    });
  });
});
