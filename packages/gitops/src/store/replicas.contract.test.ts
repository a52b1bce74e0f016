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
      const [a, b] = [open(), open()];
      a.heartbeat(info("a"), TTL);
      const seen = b.heartbeat(info("b"), 50);
      expect(seen.members.map((m) => m.id)).toEqual(["a", "b"]);
      expect(seen.members[0]?.expiresAt).toBeGreaterThan(seen.members[0]?.heartbeatAt ?? Infinity);
      await pause(120);
      expect(a.listMembers().map((m) => m.id)).toEqual(["a"]);
      expect(a.heartbeat(info("a"), TTL).members.map((m) => m.id)).toEqual(["a"]);
    });

    it("gives a free target to one owner, renews it for that owner and refuses it to another", () => {
      const [a, b] = [open(), open()];
      const first = a.acquireTarget("site", "a", TTL);
      expect(first).toMatchObject({ taken: true, lease: { target: "site", owner: "a", epoch: 1 } });
      expect(first.taken && first.tookOverFrom).toBeUndefined();
      expect(b.acquireTarget("site", "b", TTL)).toMatchObject({
        taken: false,
        holder: { owner: "a", epoch: 1 },
      });
      expect(a.acquireTarget("site", "a", TTL)).toMatchObject({ taken: true, lease: { epoch: 1 } });
      expect(b.listTargetLeases()).toMatchObject([{ target: "site", owner: "a", epoch: 1 }]);
    });

    it("bumps the epoch when a released target changes hands", () => {
      const [a, b] = [open(), open()];
      a.acquireTarget("site", "a", TTL);
      a.releaseTarget("site", { owner: "b", epoch: 1 });
      expect(b.acquireTarget("site", "b", TTL).taken).toBe(false);
      a.releaseTarget("site", { owner: "a", epoch: 1 });
      const taken = b.acquireTarget("site", "b", TTL);
      expect(taken).toMatchObject({ taken: true, lease: { owner: "b", epoch: 2 }, interrupted: [] });
      expect(taken.taken && taken.tookOverFrom).toBeUndefined();
    });

    it("takes over a lapsed lease and marks the previous owner's unfinished runs interrupted", async () => {
      const [a, b] = [open(), open()];
      a.acquireTarget("site", "a", 50);
      a.startRun(run("r-a"), "a", { owner: "a", epoch: 1 });
      await pause(120);
      const taken = b.acquireTarget("site", "b", TTL);
      expect(taken).toMatchObject({ taken: true, tookOverFrom: "a", lease: { owner: "b", epoch: 2 } });
      expect(taken.taken && taken.interrupted.map((r) => [r.id, r.result])).toEqual([["r-a", "interrupted"]]);
      expect(a.getRun("r-a")?.result).toBe("interrupted");
    });

    it("refuses status and run writes of a stale owner, atomically, and keeps the newer owner's", async () => {
      const [a, b] = [open(), open()];
      a.acquireTarget("site", "a", 50);
      const stale = { owner: "a", epoch: 1 };
      a.putStatus(status("site", "ByA"), stale);
      a.startRun(run("r-a"), "a", stale);
      await pause(120);
      b.acquireTarget("site", "b", TTL);
      const current = { owner: "b", epoch: 2 };
      b.putStatus(status("site", "ByB"), current);
      b.startRun(run("r-b"), "b", current);
      expect(() => a.putStatus(status("site", "StaleA"), stale)).toThrow(FencedError);
      expect(() => a.startRun(run("r-a2"), "a", stale)).toThrow(FencedError);
      expect(() => a.finishRun({ ...run("r-a"), result: "applied" }, stale)).toThrow(FencedError);
      expect(b.getStatus("site")?.conditions[0]?.reason).toBe("ByB");
      expect(b.getRun("r-a2")).toBeUndefined();
      expect(b.getRun("r-a")?.result).toBe("interrupted");
      b.finishRun({ ...run("r-b"), result: "applied" }, current);
      expect(a.getRun("r-b")?.result).toBe("applied");
      // Unfenced writes (a single process) are not checked.
      a.putStatus(status("other", "Plain"));
      expect(b.getStatus("other")?.conditions[0]?.reason).toBe("Plain");
      expect(b.insertStatus(status("other", "Again"))).toBe(false);
      expect(b.insertStatus(status("new", "First"))).toBe(true);
      expect(a.getStatus("other")?.conditions[0]?.reason).toBe("Plain");
    });

    it("renews a member's leases with its heartbeat and leaves out leases taken from it", async () => {
      const [a, b] = [open(), open()];
      a.acquireTarget("one", "a", 50);
      a.acquireTarget("two", "a", 50);
      await pause(120);
      b.acquireTarget("two", "b", TTL);
      const beat = a.heartbeat(info("a"), TTL);
      expect(beat.leases.map((l) => [l.target, l.epoch])).toEqual([["one", 1]]);
      expect(b.acquireTarget("one", "b", TTL).taken).toBe(false);
    });

    it("releases every lease of a member that leaves", () => {
      const [a, b] = [open(), open()];
      a.heartbeat(info("a"), TTL);
      a.acquireTarget("one", "a", TTL);
      a.leave("a");
      expect(b.listMembers()).toEqual([]);
      expect(b.listTargetLeases()).toEqual([]);
      expect(b.acquireTarget("one", "b", TTL)).toMatchObject({ taken: true, lease: { epoch: 2 } });
    });

    it("lets exactly one of several stores take a new target at once", () => {
      const stores = [open(), open(), open()];
      const results = stores.map((s, i) => s.acquireTarget("site", `m${i}`, TTL).taken);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("keeps a command any replica received until its owner completes it, across a takeover", async () => {
      const [a, b, c] = [open(), open(), open()];
      a.acquireTarget("site", "a", 50);
      const command = { kind: "reconcile", trigger: "webhook", force: false } as const;
      c.addTrigger({ id: "t1", target: "site", command, receivedBy: "c" });
      c.addTrigger({ id: "t2", target: "elsewhere", command: { kind: "suspend" }, receivedBy: "c" });
      expect(a.openTriggers("a").map((t) => [t.id, t.command])).toEqual([["t1", command]]);
      expect(b.openTriggers("b")).toEqual([]);
      await pause(120);
      b.acquireTarget("site", "b", TTL);
      // The first owner stopped before completing it: the next owner sees it, the old one cannot close it.
      expect(b.openTriggers("b").map((t) => t.id)).toEqual(["t1"]);
      expect(() => a.completeTrigger("t1", { runId: "r-a" }, { owner: "a", epoch: 1 })).toThrow(FencedError);
      b.completeTrigger("t1", { runId: "r-b" }, { owner: "b", epoch: 2 });
      expect(c.getTrigger("t1")).toMatchObject({ id: "t1", runId: "r-b", receivedBy: "c" });
      expect(c.getTrigger("t1")?.doneAt).toBeDefined();
      expect(b.openTriggers("b")).toEqual([]);
      // Completing twice is harmless.
      b.completeTrigger("t1", { runId: "r-b" }, { owner: "b", epoch: 2 });
      await pause(20);
      c.pruneTriggers(10);
      expect(c.getTrigger("t1")).toBeUndefined();
      expect(c.getTrigger("t2")?.doneAt).toBeUndefined();
    });

    it("announces each stored command to listeners of other connections where it can, else leaves it to polling", async () => {
      const [a, b] = [open(), open()];
      if (!b.onTrigger) {
        expect(name).toBe("SqliteStore");
        return;
      }
      const heard: string[] = [];
      const stop = b.onTrigger((target) => heard.push(target));
      const command = { kind: "reconcile", trigger: "webhook", force: false } as const;
      a.addTrigger({ id: "t1", target: "site", command, receivedBy: "a" });
      a.addTrigger({ id: "t2", target: "web", command, receivedBy: "a" });
      const deadline = Date.now() + 10_000;
      while (heard.length < 2 && Date.now() < deadline) await pause(20);
      expect(heard).toEqual(["site", "web"]);
      stop();
      a.addTrigger({ id: "t3", target: "api", command, receivedBy: "a" });
      expect(a.getTrigger("t3")?.target).toBe("api");
      await pause(200);
      expect(heard).toEqual(["site", "web"]);
    });
  });
}

replicaContract("SqliteStore", sqliteFactory);
replicaContract("PostgresStore", postgresFactory());
