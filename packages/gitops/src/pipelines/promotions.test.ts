import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { StalledError } from "../errors.js";
import { Reconciler } from "../reconciler.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  useReconciler,
} from "../reconciler.test-support.js";
import type { TargetSpec } from "../spec/spec.js";
import type { TargetStatus } from "../types.js";
import { soak } from "./promotion.js";

describe("Reconciler promotion", () => {
  let dir: string;
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create } = useReconciler((h) => {
    ({ dir, engine, source } = h);
  });

  describe("promotion", () => {
    const pair = (promote: TargetSpec["promote"] = { from: "staging" }) => [
      spec({ name: "staging", stack: "staging" }),
      spec({ name: "prod", stack: "prod", promote }),
    ];
    const ranFor = (target: string) => engine.calls.filter((c) => c.request.stack === target).length;

    it("refuses a promote.from that is unknown, itself, another repository or closes a cycle", async () => {
      await expect(create({ targets: pair({ from: "stagin" }) })).rejects.toThrowError(
        /target "prod": `promote.from` names an unknown target \(known: prod, staging\), got "stagin"/,
      );
      await expect(create({ targets: [spec({ promote: { from: "site" } })] })).rejects.toThrowError(
        /`promote.from` names the target itself/,
      );
      await expect(
        create({
          targets: [
            spec({ name: "staging", repo: "https://example.com/other.git" }),
            spec({ name: "prod", promote: { from: "staging" } }),
          ],
        }),
      ).rejects.toThrowError(/`promote.from` names a target of another repository/);
      await expect(
        create({
          targets: [
            spec({ name: "staging", dependsOn: ["prod"] }),
            spec({ name: "prod", promote: { from: "staging" } }),
          ],
        }),
      ).rejects.toThrowError(/cycle: /);
      await expect(create({ targets: pair({ from: "staging", after: "soon" }) })).rejects.toThrowError(
        /`promote.after` must be a duration/,
      );
    });

    it("promotes what the upstream applied after the soak time, without the engine before that", async () => {
      const r = await create({ targets: pair({ from: "staging", after: "1h" }) });
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      expect((await r.reconcile("prod", { force: false })).result).toBe("skipped");
      expect((await r.status("prod")).pendingPromotion).toBeUndefined();
      expect((await r.reconcile("staging")).result).toBe("applied");
      const check = await r.reconcile("prod", { trigger: "promotion", force: false });
      expect(check.result).toBe("skipped");
      // The soak time counts from when staging applied and was last seen becoming Ready.
      const staging = await r.status("staging");
      const readySince = staging.conditions.find((c) => c.type === "Ready")?.since as string;
      const appliedAt = Math.max(Date.parse(staging.revisionAppliedAt as string), Date.parse(readySince));
      expect((await r.status("prod")).pendingPromotion).toEqual({
        revision: REV_A,
        dueAt: new Date(appliedAt + 3_600_000).toISOString(),
      });
      expect(ranFor("prod")).toBe(0);
      expect(await r.promotions("prod")).toEqual([]);
    });

    it("promotes at once with no soak time, and a new upstream revision follows", async () => {
      const r = await create({ targets: pair() });
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      await r.reconcile("staging");
      await r.whenIdle();
      expect((await r.history("prod"))[0]).toMatchObject({
        trigger: "promotion",
        result: "applied",
        revision: REV_A,
      });
      expect(source.checkouts.at(-1)).toMatchObject({ revision: REV_A, previous: undefined });
      source.revision = REV_B;
      // prod never asks the remote: its revision is staging's.
      const resolves = source.resolves;
      await r.reconcile("prod", { force: false });
      expect(source.resolves).toBe(resolves);
      expect((await r.status("prod")).lastAppliedRevision).toBe(REV_A);
      await r.reconcile("staging");
      await r.whenIdle();
      expect((await r.status("prod")).lastAppliedRevision).toBe(REV_B);
      expect((await r.promotions("prod")).map((p) => [p.kind, p.revision, p.previousRevision])).toEqual([
        ["auto", REV_B, REV_A],
        ["auto", REV_A, undefined],
      ]);
    });

    it("does not time a promotion while the upstream is unhealthy", async () => {
      const r2 = await Reconciler.create({
        dataDir: join(dir, "second"),
        engine,
        source,
        installDependencies: false,
        logger: pino({ level: "silent" }),
        targets: pair({ from: "staging", requireHealthy: true }),
      });
      try {
        source.revision = REV_A;
        await r2.reconcile("staging");
        await r2.whenIdle();
        await r2.suspend("prod");
        source.revision = REV_B;
        await r2.reconcile("staging");
        engine.previewErrors.push(new StalledError("ProgramFailed", "boom"));
        await r2.reconcile("staging", { trigger: "manual" });
        await r2.resume("prod");
        await r2.reconcile("prod", { trigger: "promotion", force: false });
        expect((await r2.status("prod")).pendingPromotion).toEqual({
          revision: REV_B,
          waitingFor: '"staging" is not ready (ProgramFailed)',
        });
        expect((await r2.status("prod")).lastAppliedRevision).toBe(REV_A);
      } finally {
        await r2.stop({ graceMs: 100 });
      }
    });

    it("promotes and rolls back by hand, recording who and why, and holds the bad revision back", async () => {
      const r = await create({ targets: pair({ from: "staging", after: "1h" }) });
      const promoted: string[] = [];
      r.on("promoted", (p) => promoted.push(p.kind));
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      await r.reconcile("staging");
      await expect(r.promote("prod", { by: "", reason: "x" })).rejects.toThrowError(/`by` must say who asks/);
      await expect(r.promote("prod", { by: "amy", reason: "x", revision: "zz" })).rejects.toThrowError(
        /`revision` must be a commit SHA/,
      );
      await expect(r.promote("prod", { by: "amy", reason: "x", revision: "bbbb" })).rejects.toThrowError(
        /"staging" never applied it successfully \(recent: aaaaaaaaaaaa\)/,
      );
      await expect(r.promote("staging", { by: "amy", reason: "x" })).rejects.toThrowError(
        /has no `promote` policy/,
      );
      await expect(r.rollback("staging", { by: "amy", reason: "x" })).rejects.toThrowError(
        /roll it back with `git revert`/,
      );
      await expect(r.rollback("prod", { by: "amy", reason: "x" })).rejects.toThrowError(
        /it has applied no other revision/,
      );

      expect(
        (await (await r.promote("prod", { by: "amy", reason: "hotfix", revision: "aaaa" })).done).result,
      ).toBe("applied");
      source.revision = REV_B;
      await r.reconcile("staging");
      expect((await (await r.promote("prod", { by: "amy", reason: "next" })).done).revision).toBe(REV_B);
      const back = await (await r.rollback("prod", { by: "bo", reason: "errors up" })).done;
      expect(back).toMatchObject({ result: "applied", revision: REV_A });
      expect(await r.status("prod")).toMatchObject({ promotedRevision: REV_A, heldBackRevision: REV_B });
      expect((await r.promotions("prod"))[0]).toMatchObject({
        kind: "rollback",
        by: "bo",
        reason: "errors up",
      });
      expect(promoted).toEqual(["manual", "manual", "rollback"]);
      await r.reconcile("prod", { trigger: "promotion", force: false });
      expect((await r.status("prod")).lastAppliedRevision).toBe(REV_A);
    });
  });
});

describe("soak with requireHealthy", () => {
  const policy = { from: "staging", afterMs: 1000, requireHealthy: true };
  const at = "2026-01-01T00:00:00.000Z";
  const upstream = (drifted: TargetStatus["conditions"][number]["status"]): TargetStatus => ({
    name: "staging",
    lastAppliedRevision: REV_A,
    revisionAppliedAt: at,
    conditions: [
      { type: "Ready", status: true, reason: "Applied", message: "", since: at },
      { type: "Drifted", status: drifted, reason: "x", message: "", since: at },
    ],
    updatedAt: at,
  });

  it("waits for drift found, not for drift not checked since a run that ended early", () => {
    expect(soak(policy, upstream(true))).toEqual({ waitingFor: '"staging" is drifted' });
    expect(soak(policy, upstream("Unknown"))).toEqual({ dueAt: Date.parse(at) + 1000 });
  });
});
