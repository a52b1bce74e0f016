// Two reconcilers of one process sharing one SQLite file as replicas, over a
// fake engine and source: they divide the targets, a command sent to the one
// that does not own a target is carried out by the owner, and the one left
// takes every target when the other stops. (Real processes on PostgreSQL and
// the real engine: test/replicas.test.ts.)
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../http/handler.js";
import { ReconcilerMetrics } from "../http/metrics.js";
import { Reconciler } from "../reconciler.js";
import { FakeEngine, FakeSource, REV_B, until } from "../reconciler.test-support.js";
import type { TargetSpec } from "../spec/spec.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { RunRecord } from "../types.js";
import { rendezvousOwner } from "./replicas.js";

const REPLICAS = { leaseTtlMs: 600, heartbeatMs: 100, triggerPollMs: 50 };
const NAMES = ["t0", "t1", "t2", "t3", "t4", "t5"];

describe("replicas sharing one SQLite file", () => {
  let dir: string;
  const stores: SqliteStore[] = [];
  const reconcilers: Reconciler[] = [];
  const finished = new Map<string, RunRecord["id"][]>();
  const sources: FakeSource[] = [];

  const target = (name: string): TargetSpec => ({
    name,
    repo: "https://example.com/infra.git",
    stack: name,
    passphrase: "test-passphrase",
    interval: "1h",
    resync: "1h",
  });
  const replica = async (name: string, extra: readonly Partial<TargetSpec>[] = []) => {
    const store = new SqliteStore(join(dir, "driftless.db"));
    stores.push(store);
    const reconciler = await Reconciler.create({
      dataDir: join(dir, name),
      store,
      engine: new FakeEngine(),
      source: sources[sources.push(new FakeSource()) - 1],
      installDependencies: false,
      logger: pino({ level: "silent" }),
      replicas: REPLICAS,
      targets: [...NAMES.map((t) => ({ name: t })), ...extra].map((t) => ({
        ...target(t.name as string),
        ...t,
      })),
    });
    reconciler.on("run.finished", (e) => finished.set(name, [...(finished.get(name) ?? []), e.runId]));
    reconcilers.push(reconciler);
    return reconciler;
  };
  const member = (r: Reconciler) => r.replicaStats()?.member as string;
  const owners = async (r: Reconciler) => (await r.statuses()).map((s) => s.owner);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-replicas-"));
    finished.clear();
  });
  afterEach(async () => {
    for (const r of reconcilers.splice(0)) await r.stop({ graceMs: 100 }).catch(() => undefined);
    for (const s of stores.splice(0)) s.close();
    sources.length = 0;
    rmSync(dir, { recursive: true, force: true });
  });

  it("divides the targets by rendezvous hashing and runs each once on its owner", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    a.start();
    b.start();
    const members = [member(a), member(b)];
    await until(async () => {
      const of = await owners(a);
      return NAMES.every((t, i) => of[i] === rendezvousOwner(members, t));
    }, "every target to be owned by the member it hashes to");
    await until(
      () => (finished.get("a")?.length ?? 0) + (finished.get("b")?.length ?? 0) >= NAMES.length,
      "runs",
    );
    expect(await owners(b)).toEqual(await owners(a));
    const ranOn = async (r: Reconciler) => (await r.statuses()).filter((s) => s.owner === member(r)).length;
    expect((await ranOn(a)) + (await ranOn(b))).toBe(NAMES.length);
    expect(a.replicaStats()).toMatchObject({ members: 2, takeovers: 0, renewalFailures: 0 });
    const metrics = await new ReconcilerMetrics(a).registry.metrics();
    expect(metrics).toContain(`driftless_replica_targets_owned{member="${member(a)}"} ${await ranOn(a)}`);
    expect(metrics).toContain(`driftless_replica_members{member="${member(a)}"} 2`);
    expect(metrics).toContain(`driftless_replica_takeovers_total{member="${member(a)}"} 0`);
    expect(metrics).toContain("# TYPE driftless_replica_lease_renewal_failures_total counter");
  });

  it("has the owner carry out a command another replica received, and takes over when a replica leaves", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    a.start();
    b.start();
    await until(async () => (await owners(a)).every((o) => o !== undefined), "every target to be owned");
    const ownersOfA = await owners(a);
    const ofA = NAMES.filter((_, i) => ownersOfA[i] === member(a));
    const target = ofA[0] ?? NAMES[0];
    const viaB = await b.request(target as string, { trigger: "manual" });
    const run = await viaB.done;
    expect(run.target).toBe(target);
    expect(run.result).not.toBe("skipped");
    const byOwner = (await owners(a))[NAMES.indexOf(target as string)] === member(a) ? "a" : "b";
    expect(finished.get(byOwner)).toContain(run.id);
    // The command's id finds the owner's run from any replica.
    expect((await b.run(viaB.id))?.id).toBe(run.id);

    await a.stop({ graceMs: 100 });
    await until(
      async () => (await owners(b)).every((o) => o === member(b)),
      "the replica left to own every target",
      5000,
    );
  });

  it("answers a promotion handed to the owner without an earlier promotion's record", async () => {
    const prod = { name: "prod", promote: { from: "t0" } };
    const [a, b] = [await replica("a", [prod]), await replica("b", [prod])];
    a.start();
    b.start();
    await until(
      async () => (await a.statuses()).every((s) => s.owner !== undefined),
      "every target to be owned",
    );
    // t0's first apply is promoted to prod automatically: the record an old reply showed.
    await until(async () => (await a.promotions("prod")).length === 1, "the automatic promotion", 15_000);
    const ownerOfProd = (await a.status("prod")).owner;
    const viaOther = ownerOfProd === member(a) ? b : a;
    const handler = createHandler(viaOther, { tokens: ["t"] });
    const server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/targets/prod/promote`,
        {
          method: "POST",
          headers: { authorization: "Bearer t", "content-type": "application/json" },
          body: JSON.stringify({ by: "bob", reason: "hotfix" }),
        },
      );
      expect(response.status).toBe(202);
      const reply = (await response.json()) as { runId: string; promotion?: unknown };
      expect(reply.promotion).toBeUndefined();
      // The owner records it and runs it.
      await until(
        async () => (await a.promotions("prod"))[0]?.by === "token-1",
        "the owner to record the promotion",
      );
      // Who is the token's identity; the admin token's body `by` is kept as on whose behalf.
      expect((await a.promotions("prod"))[0]).toMatchObject({
        kind: "manual",
        reason: "hotfix",
        onBehalfOf: "bob",
      });
    } finally {
      handler.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("hands a promotion that a run here sets off to the replica that owns the promoting target", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    a.start();
    b.start();
    await until(
      async () => (await a.statuses()).every((s) => s.owner !== undefined),
      "every target to be owned",
    );
    const members = [member(a), member(b)];
    const upstream = "t0";
    const upstreamOwner = (await a.status(upstream)).owner === member(a) ? a : b;
    // A promoting target that hashes to the other replica, added to both (every replica has every target).
    const name = Array.from({ length: 50 }, (_, i) => `prod-${i}`).find(
      (n) => rendezvousOwner(members, n) !== member(upstreamOwner),
    ) as string;
    for (const r of [a, b]) r.addTarget({ ...target(name), promote: { from: upstream } });
    await until(async () => (await a.promotions(name)).length === 1, "the new target's first promotion");
    // A new revision applied upstream sets off the promotion on the upstream's owner; the promoting
    // target's owner learns of it through the inbox, not at its next interval (an hour away).
    for (const source of sources) source.revision = REV_B;
    expect((await upstreamOwner.reconcile(upstream)).revision).toBe(REV_B);
    expect((await a.status(upstream)).lastAppliedRevision).toBe(REV_B);
    await until(
      async () => (await a.promotions(name))[0]?.revision === REV_B,
      "the promotion of the new revision",
      10_000,
    );
    expect((await a.promotions(name))[0]).toMatchObject({ kind: "auto", source: upstream });
    expect((await a.status(name)).owner).not.toBe(member(upstreamOwner));
  });
});
