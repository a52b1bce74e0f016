// The replica half of the store contract: membership, target leases with a
// fencing epoch, fenced writes and the trigger inbox, through the `Store`
// interfaces only, on SQLite and on a real PostgreSQL server alike. Each test
// opens several stores on one database, as replicas would.
import { describe, expect, it } from "vitest";
import { FencedError } from "../errors.js";
import type { MemberInfo, RunRecord, TargetStatus } from "../types.js";
import { postgresFactory, type StoreFactory, sqliteFactory, useStores } from "./store.test-support.js";

const status = (name: string, reason: string): TargetStatus => ({
  name,
  conditions: [{ type: "Ready", status: true, reason, message: "ok", since: "2025-01-01T00:00:00.000Z" }],
  updatedAt: "2025-01-01T00:00:00.000Z",
});

const run = (id: string, target = "site"): RunRecord => ({
  id,
  target,
  trigger: "manual",
  startedAt: "2025-01-01T00:00:00.000Z",
  drift: false,
  log: "",
});

const info = (id: string): MemberInfo => ({ id, host: "h", pid: 1, startedAt: "2025-01-01T00:00:00.000Z" });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function replicaContract(name: string, factory: StoreFactory): void {
  describe(`${name} (replica contract)`, () => {
    const TTL = 60_000;
    const open = useStores(factory);

    it("lists members that heartbeat and forgets those whose membership lapsed", async () => {
      const [a, b] = [await open(), await open()];
      await a.heartbeat(info("a"), TTL);
      const seen = await b.heartbeat(info("b"), 50);
      expect(seen.members.map((m) => m.id)).toEqual(["a", "b"]);
      expect(seen.members[0]?.expiresAt).toBeGreaterThan(seen.members[0]?.heartbeatAt ?? Infinity);
      await pause(120);
      expect((await a.listMembers()).map((m) => m.id)).toEqual(["a"]);
      expect((await a.heartbeat(info("a"), TTL)).members.map((m) => m.id)).toEqual(["a"]);
    });

    it("gives a free target to one owner, renews it for that owner and refuses it to another", async () => {
      const [a, b] = [await open(), await open()];
      const first = await a.acquireTarget("site", "a", TTL);
      expect(first).toMatchObject({ taken: true, lease: { target: "site", owner: "a", epoch: 1 } });
      expect(first.taken && first.tookOverFrom).toBeUndefined();
      expect(await b.acquireTarget("site", "b", TTL)).toMatchObject({
        taken: false,
        holder: { owner: "a", epoch: 1 },
      });
      expect(await a.acquireTarget("site", "a", TTL)).toMatchObject({ taken: true, lease: { epoch: 1 } });
      expect(await b.listTargetLeases()).toMatchObject([{ target: "site", owner: "a", epoch: 1 }]);
    });

    it("bumps the epoch when a released target changes hands", async () => {
      const [a, b] = [await open(), await open()];
      await a.acquireTarget("site", "a", TTL);
      await a.releaseTarget("site", { owner: "b", epoch: 1 });
      expect((await b.acquireTarget("site", "b", TTL)).taken).toBe(false);
      await a.releaseTarget("site", { owner: "a", epoch: 1 });
      const taken = await b.acquireTarget("site", "b", TTL);
      expect(taken).toMatchObject({ taken: true, lease: { owner: "b", epoch: 2 }, interrupted: [] });
      expect(taken.taken && taken.tookOverFrom).toBeUndefined();
    });

    it("takes over a lapsed lease and marks the previous owner's unfinished runs interrupted", async () => {
      const [a, b] = [await open(), await open()];
      await a.acquireTarget("site", "a", 50);
      await a.startRun(run("r-a"), "a", { owner: "a", epoch: 1 });
      await pause(120);
      const taken = await b.acquireTarget("site", "b", TTL);
      expect(taken).toMatchObject({ taken: true, tookOverFrom: "a", lease: { owner: "b", epoch: 2 } });
      expect(taken.taken && taken.interrupted.map((r) => [r.id, r.result])).toEqual([["r-a", "interrupted"]]);
      expect((await a.getRun("r-a"))?.result).toBe("interrupted");
    });

    it("refuses status and run writes of a stale owner, atomically, and keeps the newer owner's", async () => {
      const [a, b] = [await open(), await open()];
      await a.acquireTarget("site", "a", 50);
      const stale = { owner: "a", epoch: 1 };
      await a.putStatus(status("site", "ByA"), stale);
      await a.startRun(run("r-a"), "a", stale);
      await pause(120);
      await b.acquireTarget("site", "b", TTL);
      const current = { owner: "b", epoch: 2 };
      await b.putStatus(status("site", "ByB"), current);
      await b.startRun(run("r-b"), "b", current);
      await expect(a.putStatus(status("site", "StaleA"), stale)).rejects.toThrow(FencedError);
      await expect(a.startRun(run("r-a2"), "a", stale)).rejects.toThrow(FencedError);
      await expect(a.finishRun({ ...run("r-a"), result: "applied" }, stale)).rejects.toThrow(FencedError);
      expect((await b.getStatus("site"))?.conditions[0]?.reason).toBe("ByB");
      expect(await b.getRun("r-a2")).toBeUndefined();
      expect((await b.getRun("r-a"))?.result).toBe("interrupted");
      await b.finishRun({ ...run("r-b"), result: "applied" }, current);
      expect((await a.getRun("r-b"))?.result).toBe("applied");
      // Unfenced writes (a single process) are not checked.
      await a.putStatus(status("other", "Plain"));
      expect((await b.getStatus("other"))?.conditions[0]?.reason).toBe("Plain");
      expect(await b.insertStatus(status("other", "Again"))).toBe(false);
      expect(await b.insertStatus(status("new", "First"))).toBe(true);
      expect((await a.getStatus("other"))?.conditions[0]?.reason).toBe("Plain");
    });

    it("renews a member's leases with its heartbeat and leaves out leases taken from it", async () => {
      const [a, b] = [await open(), await open()];
      await a.acquireTarget("one", "a", 50);
      await a.acquireTarget("two", "a", 50);
      await pause(120);
      await b.acquireTarget("two", "b", TTL);
      const beat = await a.heartbeat(info("a"), TTL);
      expect(beat.leases.map((l) => [l.target, l.epoch])).toEqual([["one", 1]]);
      expect((await b.acquireTarget("one", "b", TTL)).taken).toBe(false);
    });

    it("releases every lease of a member that leaves", async () => {
      const [a, b] = [await open(), await open()];
      await a.heartbeat(info("a"), TTL);
      await a.acquireTarget("one", "a", TTL);
      await a.leave("a");
      expect(await b.listMembers()).toEqual([]);
      expect(await b.listTargetLeases()).toEqual([]);
      expect(await b.acquireTarget("one", "b", TTL)).toMatchObject({ taken: true, lease: { epoch: 2 } });
    });

    it("lets exactly one of several stores take a new target at once", async () => {
      const stores = [await open(), await open(), await open()];
      const results = await Promise.all(
        stores.map(async (s, i) => (await s.acquireTarget("site", `m${i}`, TTL)).taken),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("keeps a command any replica received until its owner completes it, across a takeover", async () => {
      const [a, b, c] = [await open(), await open(), await open()];
      await a.acquireTarget("site", "a", 50);
      const command = { kind: "reconcile", trigger: "webhook", force: false } as const;
      await c.addTrigger({ id: "t1", target: "site", command, receivedBy: "c" });
      await c.addTrigger({ id: "t2", target: "elsewhere", command: { kind: "suspend" }, receivedBy: "c" });
      expect((await a.openTriggers("a")).map((t) => [t.id, t.command])).toEqual([["t1", command]]);
      expect(await b.openTriggers("b")).toEqual([]);
      await pause(120);
      await b.acquireTarget("site", "b", TTL);
      // The first owner stopped before completing it: the next owner sees it, the old one cannot close it.
      expect((await b.openTriggers("b")).map((t) => t.id)).toEqual(["t1"]);
      await expect(a.completeTrigger("t1", { runId: "r-a" }, { owner: "a", epoch: 1 })).rejects.toThrow(
        FencedError,
      );
      await b.completeTrigger("t1", { runId: "r-b" }, { owner: "b", epoch: 2 });
      expect(await c.getTrigger("t1")).toMatchObject({ id: "t1", runId: "r-b", receivedBy: "c" });
      expect((await c.getTrigger("t1"))?.doneAt).toBeDefined();
      expect(await b.openTriggers("b")).toEqual([]);
      // Completing twice is harmless.
      await b.completeTrigger("t1", { runId: "r-b" }, { owner: "b", epoch: 2 });
      await pause(20);
      await c.pruneTriggers(10);
      expect(await c.getTrigger("t1")).toBeUndefined();
      expect((await c.getTrigger("t2"))?.doneAt).toBeUndefined();
    });

    it("announces each stored command to listeners of other connections where it can, else leaves it to polling", async () => {
      const [a, b] = [await open(), await open()];
      if (!b.onTrigger) {
        expect(name).toBe("SqliteStore");
        return;
      }
      const heard: string[] = [];
      const stop = await b.onTrigger((target) => heard.push(target));
      const command = { kind: "reconcile", trigger: "webhook", force: false } as const;
      await a.addTrigger({ id: "t1", target: "site", command, receivedBy: "a" });
      await a.addTrigger({ id: "t2", target: "web", command, receivedBy: "a" });
      const deadline = Date.now() + 10_000;
      while (heard.length < 2 && Date.now() < deadline) await pause(20);
      expect(heard).toEqual(["site", "web"]);
      stop();
      await a.addTrigger({ id: "t3", target: "api", command, receivedBy: "a" });
      expect((await a.getTrigger("t3"))?.target).toBe("api");
      await pause(200);
      expect(heard).toEqual(["site", "web"]);
    });
  });
}

replicaContract("SqliteStore", sqliteFactory);
replicaContract("PostgresStore", postgresFactory());
