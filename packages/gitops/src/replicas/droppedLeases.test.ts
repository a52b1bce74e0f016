// A replica that fenced itself while a heartbeat was slow, not failed: the
// heartbeat that came back late renewed every lease under its name, among them
// the targets it had just dropped. It frees them at its next heartbeat, so the
// replica a target hashes to can take it, and it does not take a target back
// while its own dropped run of it is still ending. (The ReplicaSet alone on a
// real SQLite file; the host is a stand-in that records what it is told.)
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { until } from "../reconciler.test-support.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { Store } from "../store/store.js";
import { type ReplicaHost, ReplicaSet, rendezvousOwner } from "./replicas.js";

const OPTIONS = { leaseTtlMs: 800, heartbeatMs: 100, triggerPollMs: 60_000 };
const A = "host-a:1:aaaa";
const B = "host-b:2:bbbb";
/** A target that hashes to B once both are members, so A must hand it over. */
const TARGET = Array.from({ length: 50 }, (_, i) => `site-${i}`).find(
  (t) => rendezvousOwner([A, B], t) === B,
) as string;

describe("the leases of targets a replica dropped", () => {
  let dir: string;
  let store: SqliteStore;
  let replica: ReplicaSet | undefined;
  const busy = new Set<string>();
  const dropped: string[] = [];
  const host: ReplicaHost = {
    targets: () => [TARGET],
    busy: (t) => busy.has(t),
    take: async () => undefined,
    drop: (t) => {
      dropped.push(t);
    },
    refreshOthers: async () => undefined,
    deliver: async () => undefined,
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-dropped-"));
    store = new SqliteStore(join(dir, "driftless.db"));
    busy.clear();
    dropped.length = 0;
  });

  afterEach(async () => {
    await replica?.stop(true);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Replica A over a store whose next heartbeat, once `slow.on`, answers after the fence margin (but answers). */
  const startA = (slow: { on: boolean }) => {
    const late = new Proxy(store, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property === "heartbeat" && slow.on) {
          slow.on = false;
          return async (...args: Parameters<Store["heartbeat"]>) => {
            const answer = await store.heartbeat(...args);
            await new Promise((resolve) => setTimeout(resolve, OPTIONS.leaseTtlMs - 100));
            return answer;
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Store;
    replica = new ReplicaSet(late, A, OPTIONS, host, pino({ level: "silent" }));
    replica.start();
    return replica;
  };
  const leaseOf = async () => (await store.listTargetLeases([TARGET]))[0];

  it("frees a lease a late heartbeat renewed after the replica dropped it, for the replica the target hashes to", async () => {
    const slow = { on: false };
    const a = startA(slow);
    await until(() => a.owns(TARGET), "A to take the target while it is alone");
    // Busy with a run of it: A keeps the target when B joins, until the run ends.
    busy.add(TARGET);
    const info = { id: B, host: hostname(), pid: 2, startedAt: new Date().toISOString() };
    await store.heartbeat(info, OPTIONS.leaseTtlMs);
    slow.on = true;
    await until(() => dropped.includes(TARGET), "A to fence itself during the late heartbeat");
    expect(a.owns(TARGET)).toBe(false);
    busy.delete(TARGET);
    // B heartbeats and asks for the target as its replica set would, until it gets it.
    let epoch: number | undefined;
    await until(async () => {
      await store.heartbeat(info, OPTIONS.leaseTtlMs);
      const acquired = await store.acquireTarget(TARGET, B, OPTIONS.leaseTtlMs);
      if (acquired.taken) epoch = acquired.lease.epoch;
      return acquired.taken;
    }, "B to take the target A dropped");
    expect(epoch).toBe(2);
    expect(a.owns(TARGET)).toBe(false);
  });

  it("takes a target it dropped back only once its run of it has ended, under a new epoch", async () => {
    const slow = { on: false };
    const a = startA(slow);
    await until(() => a.owns(TARGET), "A to take the target");
    expect((await leaseOf())?.epoch).toBe(1);
    busy.add(TARGET);
    slow.on = true;
    await until(() => dropped.includes(TARGET), "A to fence itself during the late heartbeat");
    // While the dropped run is ending, A frees the lease and leaves it free.
    await until(async () => (await leaseOf()) === undefined, "A to free the lease it dropped");
    await new Promise((resolve) => setTimeout(resolve, OPTIONS.heartbeatMs * 4));
    expect(a.owns(TARGET)).toBe(false);
    expect(await leaseOf()).toBeUndefined();
    expect(a.fence(TARGET)).toEqual({ owner: A, epoch: 1 });
    busy.delete(TARGET);
    await until(() => a.owns(TARGET), "A to take the target back once its run ended");
    // The dropped run's writes carry epoch 1 and are refused from now on.
    expect(a.fence(TARGET)).toEqual({ owner: A, epoch: 2 });
  });
});

describe("a replica with more targets to take than one heartbeat has time for", () => {
  it("takes them over several heartbeats, renewing in time, without fencing itself", async () => {
    const dir = mkdtempSync(join(tmpdir(), "driftless-budget-"));
    const store = new SqliteStore(join(dir, "driftless.db"));
    // Each take costs 15 ms (a database a few round trips away): 80 of them outlast the lease.
    const slow = new Proxy(store, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property === "acquireTarget") {
          return async (...args: Parameters<Store["acquireTarget"]>) => {
            await new Promise((resolve) => setTimeout(resolve, 15));
            return store.acquireTarget(...args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Store;
    const targets = Array.from({ length: 80 }, (_, i) => `t${i}`);
    const replica = new ReplicaSet(
      slow,
      A,
      OPTIONS,
      {
        targets: () => targets,
        busy: () => false,
        take: async () => undefined,
        drop: () => undefined,
        refreshOthers: async () => undefined,
        deliver: async () => undefined,
      },
      pino({ level: "silent" }),
    );
    try {
      replica.start();
      await until(() => replica.stats().owned === targets.length, "every target to be taken", 10_000);
      expect(replica.stats().fences).toBe(0);
    } finally {
      await replica.stop(true);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
