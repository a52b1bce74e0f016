// The lease part of the store contract (called from `store.contract.test.ts`
// for every store): stack leases taken, renewed, released and taken over, and
// the runs of processes that are gone marked as interrupted.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { expect, it } from "vitest";
import { newOwnerId } from "../engine/process.js";
import type { RunRecord } from "../types.js";
import type { Store } from "./store.js";

const TTL = 60_000;

const request = (owner: string, runId = "run-1", key = "file:///state#repo//.#dev") => ({
  key,
  owner,
  target: "site",
  runId,
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

/** The owner id of a process of this host that has exited. */
const deadOwner = async () => {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return `${hostname()}:${child.pid}:${"d".repeat(8)}`;
};

/** Registers the lease tests; `open` connects to the test's database, as another process would. */
export function leaseContract(open: () => Promise<Store>): void {
  it("takes a free lease, and takes it again for the same run", async () => {
    const store = await open();
    const owner = newOwnerId();
    expect(await store.tryLockStack(request(owner), TTL)).toBeUndefined();
    expect(await store.tryLockStack(request(owner), TTL)).toBeUndefined();
    // Another key is another stack.
    expect(
      await store.tryLockStack(request(owner, "run-2", "file:///state#repo//.#prod"), TTL),
    ).toBeUndefined();
  });

  it("lets one of two stores on one file hold a stack, and the other after release", async () => {
    const first = await open();
    const second = await open();
    const a = newOwnerId();
    const b = newOwnerId();
    const before = Date.now();
    expect(await first.tryLockStack(request(a, "run-a"), TTL)).toBeUndefined();
    const holder = await second.tryLockStack(request(b, "run-b"), TTL);
    expect(holder).toMatchObject({ owner: a, runId: "run-a", target: "site", key: request(a).key });
    expect(holder?.expiresAt).toBeGreaterThanOrEqual(before + TTL);
    expect(Date.parse(holder?.acquiredAt as string)).toBeGreaterThanOrEqual(before - 1000);
    // The same owner with another run waits too (two targets on one stack).
    expect(await first.tryLockStack(request(a, "run-c"), TTL)).toMatchObject({ runId: "run-a" });

    await first.unlockStack(request(a).key, a);
    expect(await second.tryLockStack(request(b, "run-b"), TTL)).toBeUndefined();
    expect(await first.tryLockStack(request(a, "run-a"), TTL)).toMatchObject({ owner: b, runId: "run-b" });
  });

  it("takes over a lease that expired", async () => {
    const first = await open();
    const second = await open();
    const a = newOwnerId();
    const b = newOwnerId();
    // Long enough for the next call to find it held on a loaded machine (30 ms was not, at load 18).
    const short = 1000;
    const lockedAt = Date.now();
    expect(await first.tryLockStack(request(a, "run-a"), short)).toBeUndefined();
    expect(await second.tryLockStack(request(b, "run-b"), TTL)).toMatchObject({ owner: a });
    await new Promise((r) => setTimeout(r, Math.max(0, lockedAt + short + 50 - Date.now())));
    expect(await second.tryLockStack(request(b, "run-b"), TTL)).toBeUndefined();
    // The old holder's renewal fails: the lease is no longer its own.
    expect(await first.renewStackLock(request(a).key, a, TTL)).toBe(false);
    expect(await first.tryLockStack(request(a, "run-a"), TTL)).toMatchObject({ owner: b });
  });

  it("takes over a lease whose holder is a dead process of this host", async () => {
    const first = await open();
    const second = await open();
    const dead = await deadOwner();
    expect(await first.tryLockStack(request(dead, "run-dead"), TTL)).toBeUndefined();
    const b = newOwnerId();
    expect(await second.tryLockStack(request(b, "run-b"), TTL)).toBeUndefined();
    expect(await first.tryLockStack(request(newOwnerId(), "run-c"), TTL)).toMatchObject({ owner: b });
  });

  it("leaves a lease alone when another owner renews or releases it", async () => {
    const store = await open();
    const a = newOwnerId();
    const b = newOwnerId();
    // Long enough that the calls below finish before it lapses on a loaded machine and a networked store.
    expect(await store.tryLockStack(request(a, "run-a"), 2000)).toBeUndefined();
    expect(await store.renewStackLock(request(a).key, b, TTL)).toBe(false);
    await store.unlockStack(request(a).key, b);
    expect(await store.tryLockStack(request(b, "run-b"), TTL)).toMatchObject({ owner: a });
    // The holder's own renewal moves the expiry on.
    expect(await store.renewStackLock(request(a).key, a, TTL)).toBe(true);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await store.tryLockStack(request(b, "run-b"), TTL)).toMatchObject({ owner: a });
    expect(await store.renewStackLock("no such stack", a, TTL)).toBe(false);
  });

  it("marks only the runs of processes that are gone as interrupted", async () => {
    const live = await open();
    const liveOwner = newOwnerId();
    const dead = await deadOwner();
    const remoteLive = "other-host.example:4242:aaaaaaaa";
    const remoteGone = "other-host.example:4343:bbbbbbbb";
    await live.tryLockStack(request(liveOwner, "live", "k1"), TTL);
    await live.tryLockStack(request(dead, "dead", "k2"), TTL);
    await live.tryLockStack(request(remoteLive, "remote-live", "k3"), TTL);
    await live.startRun(run("live", "2025-01-01T00:00:00.000Z"), liveOwner);
    await live.startRun(run("dead", "2025-01-01T00:00:01.000Z"), dead);
    await live.startRun(run("remote-live", "2025-01-01T00:00:02.000Z"), remoteLive);
    await live.startRun(run("remote-gone", "2025-01-01T00:00:03.000Z"), remoteGone);
    await live.startRun(run("legacy", "2025-01-01T00:00:04.000Z"));

    // A second process opens the shared store.
    const other = await open();
    const interrupted = await other.markInterrupted();
    expect(interrupted.map((r) => r.id).sort()).toEqual(["dead", "legacy", "remote-gone"]);
    expect(await other.getRun("live")).not.toHaveProperty("result");
    expect(await other.getRun("remote-live")).not.toHaveProperty("result");
    expect(await other.getRun("dead")).toMatchObject({ result: "interrupted" });
    // The dead process's lease is released; the live ones stay.
    const newcomer = newOwnerId();
    expect(await other.tryLockStack(request(newcomer, "n", "k2"), TTL)).toBeUndefined();
    expect(await other.tryLockStack(request(newcomer, "n", "k1"), TTL)).toMatchObject({ owner: liveOwner });
    expect(await other.tryLockStack(request(newcomer, "n", "k3"), TTL)).toMatchObject({
      owner: remoteLive,
    });
    expect(await other.markInterrupted()).toEqual([]);

    // The live process finishes its run as usual.
    await live.finishRun(run("live", "2025-01-01T00:00:00.000Z", { result: "applied" }));
    expect((await other.getRun("live"))?.result).toBe("applied");
  });

  it("marks and releases only the given targets' runs and leases when asked to", async () => {
    const store = await open();
    const dead = await deadOwner();
    await store.tryLockStack({ ...request(dead, "mine", "k1"), target: "site" }, TTL);
    await store.tryLockStack({ ...request(dead, "theirs", "k2"), target: "web" }, TTL);
    await store.startRun(run("mine", "2025-01-01T00:00:00.000Z"), dead);
    await store.startRun(run("theirs", "2025-01-01T00:00:01.000Z", { target: "web" }), dead);

    expect((await store.markInterrupted(["site", "api"])).map((r) => r.id)).toEqual(["mine"]);
    expect(await store.getStackLock("k1")).toBeUndefined();
    // The other target's run and lease wait for whoever recovers that target.
    expect(await store.getRun("theirs")).not.toHaveProperty("result");
    expect(await store.getStackLock("k2")).toMatchObject({ owner: dead, target: "web", runId: "theirs" });
    expect((await store.markInterrupted()).map((r) => r.id)).toEqual(["theirs"]);
    expect(await store.getStackLock("k2")).toBeUndefined();
  });
}
