import { describe, expect, it } from "vitest";
import { NothingToApproveError, RetryableError, SpecError, StalledError } from "../errors.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_A,
  REV_B,
  useReconciler,
} from "../reconciler.test-support.js";

describe("Reconciler approvals and safety gates", () => {
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create, eventsNamed } = useReconciler((h) => {
    ({ engine, source } = h);
  });

  describe("gates and stalls", () => {
    it("stalls on a gate refusal and applies after approval", async () => {
      const r = await create();
      engine.plan = planOf(1, ["delete", "aws:rds/instance:Instance"]);
      const refused = await r.reconcile("site");
      expect(refused.result).toBe("stalled");
      expect(refused.error).toMatch(/protected type/);
      expect(engine.count("up")).toBe(0);
      expect(eventsNamed("gate.refused")).toEqual([
        expect.objectContaining({ target: "site", revision: REV_A, gate: "protected-type" }),
      ]);
      expect(eventsNamed("stalled")).toEqual([
        expect.objectContaining({ reason: "GateRefused", revision: REV_A }),
      ]);
      const stalled = await r.status("site");
      expect(stalled.stalledRevision).toBe(REV_A);
      expect(stalled.conditions.find((c) => c.type === "Stalled")).toMatchObject({
        status: true,
        reason: "GateRefused",
      });

      // The scheduler leaves a refused revision alone.
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.count("preview")).toBe(1);

      const approved = await (await r.approve("site")).done;
      expect(approved.result).toBe("applied");
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      const after = await r.status("site");
      expect(after.stalledRevision).toBeUndefined();
      expect(after.approvedRevision).toBeUndefined();
      expect(after.lastAppliedRevision).toBe(REV_A);
      expect(eventsNamed("recovered")).toEqual([{ target: "site", revision: REV_A }]);
    });

    it("refuses to approve when nothing waits for approval", async () => {
      const r = await create();
      await expect(r.approve("site")).rejects.toThrowError(/has no revision waiting for approval/);
    });

    it("refuses to approve after a plain failure, starting no run", async () => {
      const r = await create();
      engine.previewErrors.push(new RetryableError("network down"));
      expect((await r.reconcile("site")).result).toBe("failed");
      const before = (await r.history("site")).length;
      await expect(r.approve("site")).rejects.toThrowError(NothingToApproveError);
      await expect(r.approve("site", { revision: REV_A.slice(0, 8) })).rejects.toThrowError(
        NothingToApproveError,
      );
      await r.whenIdle();
      expect(await r.history("site")).toHaveLength(before);
      expect(engine.count("preview")).toBe(1);
      expect((await r.status("site")).approvedRevision).toBeUndefined();
    });

    it("records who approved and why on the run that applies it", async () => {
      const r = await create({ targets: [spec({ gates: { protectedTypes: ["test:index:Db"] } })] });
      engine.plan = planOf(1, ["delete", "test:index:Db"]);
      expect((await r.reconcile("site")).result).toBe("stalled");
      await expect(r.approve("site", { by: "alice" })).rejects.toThrowError(SpecError);
      const queued = await r.approve("site", { by: "alice", reason: "the database moved" });
      expect((await r.status("site")).approvedBy).toEqual({ by: "alice", reason: "the database moved" });
      const applied = await queued.done;
      expect(applied).toMatchObject({
        result: "applied",
        approval: { by: "alice", reason: "the database moved" },
      });
      expect((await r.run(applied.id))?.approval).toEqual({ by: "alice", reason: "the database moved" });
      expect((await r.status("site")).approvedBy).toBeUndefined();
    });

    it("stalls on a program error and skips the same revision until a new one", async () => {
      const r = await create();
      engine.previewErrors.push(new StalledError("ProgramFailed", "SyntaxError: Unexpected token"));
      const run = await r.reconcile("site", { trigger: "webhook", force: false });
      expect(run).toMatchObject({ result: "stalled", error: "SyntaxError: Unexpected token" });
      expect((await r.status("site")).stalledRevision).toBe(REV_A);

      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.count("preview")).toBe(1);

      source.revision = REV_B;
      engine.plan = planOf(1, ["update", "test:index:File"]);
      expect((await r.reconcile("site", { trigger: "webhook", force: false })).result).toBe("applied");
      expect((await r.status("site")).stalledRevision).toBeUndefined();
      expect(eventsNamed("recovered")).toEqual([{ target: "site", revision: REV_B }]);
    });

    it("stalls when the source refuses a rewritten ref, without running the engine", async () => {
      const r = await create();
      source.checkoutError = new StalledError("SourceRefRewritten", "ref moved (force-push)");
      const run = await r.reconcile("site");
      expect(run.result).toBe("stalled");
      expect(engine.calls).toHaveLength(0);
      expect((await r.status("site")).conditions.find((c) => c.type === "Stalled")?.reason).toBe(
        "SourceRefRewritten",
      );
    });

    it("keeps secrets out of the recorded error", async () => {
      const r = await create({ targets: [spec({ secretConfig: { apiToken: "tok-very-secret" } })] });
      engine.previewErrors.push(new StalledError("ProgramFailed", "failed calling api with tok-very-secret"));
      const run = await r.reconcile("site");
      expect(run.error).toBe("failed calling api with [redacted]");
      expect(JSON.stringify(await r.history("site"))).not.toContain("tok-very-secret");
    });
  });

  describe("approvals", () => {
    const changed = () => planOf(1, ["update", "x:y:Z"]);

    it("holds a plan for approval, then applies it when approved", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      const held = await r.reconcile("site");
      expect(held).toMatchObject({ result: "awaiting-approval", revision: REV_A, counts: { update: 1 } });
      expect(held.plan).toEqual(engine.plan.steps);
      expect((await r.history("site"))[0]?.plan).toEqual(engine.plan.steps);
      const status = await r.status("site");
      expect(status.awaitingApproval).toMatchObject({
        revision: REV_A,
        runId: held.id,
        counts: { update: 1 },
      });
      expect(status.conditions.find((c) => c.type === "Ready")?.reason).toBe("AwaitingApproval");
      expect((await r.reconcile("site", { trigger: "interval", force: false })).result).toBe("skipped");
      expect(engine.ops()).toEqual(["preview"]);

      const applied = await (await r.approve("site")).done;
      expect(applied.result).toBe("applied");
      expect(engine.ops()).toEqual(["preview", "preview", "up"]);
      expect((await r.status("site")).awaitingApproval).toBeUndefined();
      expect(eventsNamed("recovered")).toEqual([]);
    });

    it("plans a new revision again instead of applying it on an old approval", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      await r.reconcile("site");
      source.revision = REV_B;
      const run = await (await r.approve("site")).done;
      expect(run).toMatchObject({ result: "awaiting-approval", revision: REV_B });
      expect(engine.count("up")).toBe(0);
      expect((await r.status("site")).awaitingApproval?.revision).toBe(REV_B);
      expect((await (await r.approve("site")).done).result).toBe("applied");
    });

    it("holds again when the same revision now plans different steps", async () => {
      const r = await create({ targets: [spec({ requireApproval: true })] });
      engine.plan = changed();
      await r.reconcile("site");
      engine.plan = planOf(1, ["update", "x:y:Z"], ["create", "x:y:Other"]);
      expect((await (await r.approve("site")).done).result).toBe("awaiting-approval");
      expect(engine.count("up")).toBe(0);
      expect((await (await r.approve("site")).done).result).toBe("applied");
    });

    it("holds only destructive plans with requireApproval: destructive", async () => {
      const r = await create({ targets: [spec({ requireApproval: "destructive" })] });
      engine.plan = planOf(3, ["create", "x:y:Z"]);
      expect((await r.reconcile("site")).result).toBe("applied");
      engine.plan = planOf(3, ["delete", "x:y:Z"]);
      expect((await r.reconcile("site")).result).toBe("awaiting-approval");
    });
  });
});
