// ONE contract every store passes, through the `Store` interfaces only: status, inventories, resource
// history (`resourceHistory.contract.ts`), runs, logs, promotions, leases (`leases.test-support.ts`), sessions, the audit log
// (`audit/contract.test-support.ts`), personal tokens (`personalTokens.test-support.ts`) and review
// stacks (`reviewStacks.test-support.ts`). Each store
// calls `storeContract` below with a factory opening one shared, empty database (SQLite on a temp file,
// a real PostgreSQL).
import { describe, expect, it } from "vitest";
import { newOwnerId } from "../engine/process.js";
import { FencedError } from "../errors.js";
import type { RunRecord, TargetInventory, TargetStatus } from "../types.js";
import { auditContract } from "./audit/contract.test-support.js";
import { leaseContract } from "./leases.test-support.js";
import { personalTokenContract } from "./personalTokens.test-support.js";
import { resourceHistoryContract } from "./resourceHistory.contract.js";
import { reviewStackContract } from "./reviewStacks.test-support.js";
import { postgresFactory, type StoreFactory, sqliteFactory, useStores } from "./store.test-support.js";

const status = (name: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name,
  conditions: [
    { type: "Ready", status: true, reason: "Applied", message: "ok", since: "2025-01-01T00:00:00.000Z" },
  ],
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...extra,
});
const run = (id: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  id,
  target: "site",
  trigger: "manual",
  startedAt,
  drift: false,
  log: "",
  ...extra,
});
function storeContract(name: string, factory: StoreFactory): void {
  describe(`${name} (store contract)`, () => {
    const TTL = 60_000;
    /** A separate connection to the same database, as another process would open it. */
    const open = useStores(factory);
    const request = (owner: string, runId = "run-1", key = "file:///state#repo//.#dev") => ({
      key,
      owner,
      target: "site",
      runId,
    });

    it("puts, replaces, lists and deletes statuses", async () => {
      const store = await open();
      expect(await store.getStatus("site")).toBeUndefined();
      await store.putStatus(status("web"));
      await store.putStatus(status("site", { stalledRevision: "b".repeat(40) }));
      await store.putStatus(
        status("site", { lastAppliedRevision: "c".repeat(40), outputs: { url: "https://x" } }),
      );
      const site = await store.getStatus("site");
      expect(site).toEqual(
        status("site", { lastAppliedRevision: "c".repeat(40), outputs: { url: "https://x" } }),
      );
      expect(site?.stalledRevision).toBeUndefined();
      expect((await store.listStatuses()).map((s) => s.name)).toEqual(["site", "web"]);
      await store.deleteTarget("site");
      expect(await store.getStatus("site")).toBeUndefined();
      expect((await store.listStatuses()).map((s) => s.name)).toEqual(["web"]);
    });

    it("puts, replaces and reads a target's inventory, and forgets it with the target", async () => {
      const store = await open();
      const other = await open();
      const inventory = (runId: string, extra: Partial<TargetInventory> = {}): TargetInventory => ({
        target: "site",
        runId,
        revision: "a".repeat(40),
        at: "2025-01-01T00:00:00.000Z",
        resources: [
          {
            urn: "urn:pulumi:dev::site::pulumi:pulumi:Stack::site-dev",
            type: "pulumi:pulumi:Stack",
            name: "site-dev",
            protect: false,
            custom: false,
            sync: "synced",
            health: { status: "Unknown", reason: "" },
          },
          {
            urn: "urn:pulumi:dev::site::kubernetes:apps/v1:Deployment::web",
            type: "kubernetes:apps/v1:Deployment",
            name: "web",
            parent: "urn:pulumi:dev::site::pulumi:pulumi:Stack::site-dev",
            provider: "urn:pulumi:dev::site::pulumi:providers:kubernetes::default",
            protect: true,
            custom: true,
            kubernetes: { apiVersion: "apps/v1", kind: "Deployment", namespace: "apps", name: "web" },
            sync: "drifted",
            driftPaths: ["spec.replicas", 'metadata.labels["a.b/c"]'],
            health: { status: "Healthy", reason: "2/2 replicas available" },
            lastChange: {
              runId: "r0",
              revision: "b".repeat(40),
              op: "update",
              at: "2025-01-01T00:00:00.000Z",
            },
          },
        ],
        ...extra,
      });
      expect(await store.getInventory("site")).toBeUndefined();
      await store.putInventory(inventory("r1"));
      expect(await other.getInventory("site")).toEqual(inventory("r1"));
      await other.putInventory(inventory("r2", { resources: [] }));
      expect(await store.getInventory("site")).toEqual(inventory("r2", { resources: [] }));
      await store.putStatus(status("site"));
      await store.deleteTarget("site");
      expect(await other.getInventory("site")).toBeUndefined();
    });

    it("refuses an inventory written under a stale lease", async () => {
      const store = await open();
      const first = await store.acquireTarget("site", "a", TTL);
      if (!first.taken) throw new Error("the free lease was not taken");
      const entry = { target: "site", runId: "r1", at: "2025-01-01T00:00:00.000Z", resources: [] };
      await store.putInventory(entry, { owner: "a", epoch: first.lease.epoch });
      await store.releaseTarget("site", { owner: "a", epoch: first.lease.epoch });
      const second = await store.acquireTarget("site", "b", TTL);
      if (!second.taken) throw new Error("the released lease was not taken");
      await expect(
        store.putInventory({ ...entry, runId: "r2" }, { owner: "a", epoch: first.lease.epoch }),
      ).rejects.toThrow(FencedError);
      expect((await store.getInventory("site"))?.runId).toBe("r1");
    });

    resourceHistoryContract(open);
    it("records a run from start to finish", async () => {
      const store = await open();
      await store.startRun(
        run("r1", "2025-01-01T00:00:00.000Z", { trigger: "webhook", revision: "d".repeat(40) }),
      );
      expect(await store.getRun("r1")).toEqual({
        id: "r1",
        target: "site",
        trigger: "webhook",
        revision: "d".repeat(40),
        startedAt: "2025-01-01T00:00:00.000Z",
        drift: false,
        log: "",
      });
      const counts = { create: 1, update: 2, delete: 0, replace: 0, same: 3 };
      await store.finishRun(
        run("r1", "2025-01-01T00:00:00.000Z", {
          trigger: "webhook",
          revision: "e".repeat(40),
          finishedAt: "2025-01-01T00:01:00.000Z",
          result: "drift-corrected",
          counts,
          drift: true,
          error: "boom",
          log: "line 1\nline 2",
        }),
      );
      expect(await store.getRun("r1")).toEqual({
        id: "r1",
        target: "site",
        trigger: "webhook",
        revision: "e".repeat(40),
        startedAt: "2025-01-01T00:00:00.000Z",
        finishedAt: "2025-01-01T00:01:00.000Z",
        result: "drift-corrected",
        counts,
        drift: true,
        error: "boom",
        log: "line 1\nline 2",
      });
      expect(await store.getRun("nope")).toBeUndefined();
    });

    it("stamps the finish time when the run does not carry one", async () => {
      const store = await open();
      await store.startRun(run("r1", "2025-01-01T00:00:00.000Z"));
      const before = Date.now();
      await store.finishRun(run("r1", "2025-01-01T00:00:00.000Z", { result: "unchanged" }));
      const finishedAt = Date.parse((await store.getRun("r1"))?.finishedAt as string);
      expect(finishedAt).toBeGreaterThanOrEqual(before - 1000);
    });

    it("lists a target's runs newest first, up to the limit", async () => {
      const store = await open();
      await store.startRun(run("old", "2025-01-01T00:00:00.000Z"));
      await store.startRun(run("new", "2025-01-03T00:00:00.000Z"));
      await store.startRun(run("mid", "2025-01-02T00:00:00.000Z"));
      // Same start time: the one recorded later comes first.
      await store.startRun(run("new-2", "2025-01-03T00:00:00.000Z"));
      await store.startRun(run("other", "2025-01-04T00:00:00.000Z", { target: "web" }));
      expect((await store.listRuns("site")).map((r) => r.id)).toEqual(["new-2", "new", "mid", "old"]);
      expect((await store.listRuns("site", 2)).map((r) => r.id)).toEqual(["new-2", "new"]);
      expect((await store.listRuns("web")).map((r) => r.id)).toEqual(["other"]);
      expect(await store.listRuns("none")).toEqual([]);
    });

    it("marks runs a crashed process left unfinished as interrupted, once", async () => {
      const crashed = await open();
      await crashed.startRun(run("done", "2025-01-01T00:00:00.000Z"));
      await crashed.finishRun(run("done", "2025-01-01T00:00:00.000Z", { result: "applied" }));
      await crashed.startRun(run("in-flight", "2025-01-02T00:00:00.000Z", { revision: "f".repeat(40) }));
      await crashed.close(); // the process dies: no finishRun

      const restarted = await open();
      const interrupted = await restarted.markInterrupted();
      expect(interrupted).toHaveLength(1);
      expect(interrupted[0]).toMatchObject({
        id: "in-flight",
        target: "site",
        result: "interrupted",
        revision: "f".repeat(40),
      });
      expect(await restarted.getRun("in-flight")).toMatchObject({
        result: "interrupted",
        error: expect.stringMatching(/process stopped during this run/),
        finishedAt: expect.any(String),
      });
      expect((await restarted.getRun("done"))?.result).toBe("applied");
      expect(await restarted.markInterrupted()).toEqual([]);
    });

    it("marks an unfinished run's drift when found, and keeps it when the run is interrupted", async () => {
      const crashed = await open();
      await crashed.startRun(run("drifting", "2025-01-02T00:00:00.000Z"));
      await crashed.markRunDrift({ id: "drifting", target: "site" });
      expect(await crashed.getRun("drifting")).toMatchObject({ drift: true });
      await crashed.startRun(run("done", "2025-01-01T00:00:00.000Z"));
      await crashed.finishRun(run("done", "2025-01-01T00:00:00.000Z", { result: "applied" }));
      // A finished run is history: a late mark does not change it.
      await crashed.markRunDrift({ id: "done", target: "site" });
      expect(await crashed.getRun("done")).toMatchObject({ drift: false });
      await crashed.close();

      const restarted = await open();
      expect((await restarted.markInterrupted())[0]).toMatchObject({
        id: "drifting",
        drift: true,
        result: "interrupted",
      });
    });

    it("keeps who approved the run and who overrode its window", async () => {
      const store = await open();
      const approval = { by: "alice", reason: "reviewed the plan" };
      const override = { by: "bob", reason: "hotfix" };
      await store.startRun(run("r1", "2025-01-01T00:00:00.000Z", { approval, override }));
      await store.finishRun(run("r1", "2025-01-01T00:00:00.000Z", { approval, override, result: "applied" }));
      expect(await store.getRun("r1")).toMatchObject({ approval, override, result: "applied" });
      await store.startRun(run("r2", "2025-01-02T00:00:00.000Z"));
      expect(await store.getRun("r2")).not.toHaveProperty("approval");
    });

    it("logs promotions and rollbacks, newest first, per target", async () => {
      const store = await open();
      const rev = (c: string) => c.repeat(40);
      await store.recordPromotion({
        id: "p1",
        target: "prod",
        source: "staging",
        revision: rev("a"),
        kind: "auto",
        at: "2025-01-01T00:00:00.000Z",
      });
      await store.recordPromotion({
        id: "p2",
        target: "prod",
        source: "prod",
        revision: rev("b"),
        previousRevision: rev("a"),
        kind: "rollback",
        by: "alice",
        reason: "broken login",
        at: "2025-01-02T00:00:00.000Z",
      });
      await store.recordPromotion({
        id: "p3",
        target: "web",
        source: "staging",
        revision: rev("c"),
        kind: "manual",
        at: "2025-01-03T00:00:00.000Z",
      });
      expect((await store.listPromotions("prod")).map((p) => p.id)).toEqual(["p2", "p1"]);
      expect((await store.listPromotions("prod", 1))[0]).toEqual({
        id: "p2",
        target: "prod",
        source: "prod",
        revision: rev("b"),
        previousRevision: rev("a"),
        kind: "rollback",
        by: "alice",
        reason: "broken login",
        at: "2025-01-02T00:00:00.000Z",
      });
      expect(await store.listPromotions("none")).toEqual([]);
    });

    it("lists the revisions a target applied successfully, most recent first, each once", async () => {
      const store = await open();
      const finish = async (id: string, at: string, revision: string, result: RunRecord["result"]) => {
        await store.startRun(run(id, at, { revision }));
        await store.finishRun(run(id, at, { revision, result, finishedAt: at }));
      };
      await finish("r1", "2025-01-01T00:00:00.000Z", "a".repeat(40), "applied");
      await finish("r2", "2025-01-02T00:00:00.000Z", "b".repeat(40), "failed");
      await finish("r3", "2025-01-03T00:00:00.000Z", "c".repeat(40), "drift-corrected");
      await finish("r4", "2025-01-04T00:00:00.000Z", "a".repeat(40), "unchanged");
      expect(await store.appliedRevisions("site")).toEqual(["a".repeat(40), "c".repeat(40)]);
      expect(await store.appliedRevisions("site", 1)).toEqual(["a".repeat(40)]);
    });

    leaseContract(open);

    it("appends a run's log in order and reads it from any offset", async () => {
      const store = await open();
      expect(await store.readLog("r1")).toEqual({ text: "", offset: 0 });
      await store.appendLog("r1", "one\ntwo\n");
      await store.appendLog("r2", "other run\n");
      await store.appendLog("r1", "");
      await store.appendLog("r1", "three ✓ 🚀\n");
      const all = await store.readLog("r1");
      expect(all).toEqual({ text: "one\ntwo\nthree ✓ 🚀\n", offset: all.text.length });
      expect(await store.readLog("r1", 4)).toEqual({ text: "two\nthree ✓ 🚀\n", offset: all.offset });
      expect(await store.readLog("r1", 8)).toEqual({ text: "three ✓ 🚀\n", offset: all.offset });
      expect(await store.readLog("r1", all.offset)).toEqual({ text: "", offset: all.offset });
      expect(await store.readLog("r1", all.offset + 50)).toEqual({ text: "", offset: all.offset });
      expect(await store.readLog("r2")).toEqual({ text: "other run\n", offset: 10 });
    });

    it("lets another process read a log while it is written, and after its writer is gone", async () => {
      const writer = await open();
      const reader = await open();
      await writer.startRun(run("r1", "2025-01-01T00:00:00.000Z"));
      await writer.appendLog("r1", "[preview] preview\n");
      const first = await reader.readLog("r1");
      expect(first.text).toBe("[preview] preview\n");
      await writer.appendLog("r1", "[apply] up\n");
      await writer.close();
      expect(await reader.readLog("r1", first.offset)).toEqual({ text: "[apply] up\n", offset: 29 });
      expect((await (await open()).readLog("r1")).text).toBe("[preview] preview\n[apply] up\n");
    });

    it("reads a lease as recorded, expired or not", async () => {
      const store = await open();
      const a = newOwnerId();
      expect(await store.getStackLock("k")).toBeUndefined();
      await store.tryLockStack(request(a, "run-a", "k"), 20);
      await new Promise((r) => setTimeout(r, 40));
      const lease = await store.getStackLock("k");
      expect(lease).toMatchObject({ key: "k", owner: a, runId: "run-a", target: "site" });
      expect(lease?.expiresAt).toBeLessThan(Date.now());
    });

    it("refuses a logged-out session in every process sharing the store", async () => {
      const store = await open();
      const other = await open();
      expect(await other.isSessionRevoked("s1")).toBe(false);
      await store.revokeSession("s1", Date.now() + TTL);
      await store.revokeSession("s1", Date.now() + TTL); // twice is harmless
      expect(await other.isSessionRevoked("s1")).toBe(true);
      expect(await other.isSessionRevoked("s2")).toBe(false);
    });

    it("forgets revocations of sessions that expired when it revokes another", async () => {
      const store = await open();
      await store.revokeSession("old", Date.now() - 1);
      expect(await store.isSessionRevoked("old")).toBe(true);
      await (await open()).revokeSession("new", Date.now() + TTL);
      expect(await store.isSessionRevoked("old")).toBe(false);
      expect(await store.isSessionRevoked("new")).toBe(true);
    });
    auditContract(open);
    personalTokenContract(open);
    reviewStackContract(open);
  });
}

storeContract("SqliteStore", sqliteFactory);
storeContract("PostgresStore", postgresFactory());
