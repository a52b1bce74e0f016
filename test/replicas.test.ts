// Replicas sharing targets on a real PostgreSQL server, as real processes on
// the real Pulumi engine: three start at once against an empty database, each
// revision is applied once per target whichever replica a command reaches,
// a replica SIGKILLed in the middle of `up` is replaced and its stack
// recovered, a replica paused past its lease cannot write stale status, and a
// replica cut off from the database (a partition: its packets dropped, no
// reset) stops its engine before another replica takes its targets, and a
// database restart in the middle of a run is survived. A journalling dynamic
// provider records every create and update with the content it wrote, so
// double applies and overlapping updates of one stack show.
//
// REPLICA_TARGETS sets the number of targets: 3 by default (one per replica), so `make test`
// stays within its time on a 2-core machine; `make test-replicas` runs the
// issue's full size, 60 targets, where every wait scales with the targets.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PostgresStore, rendezvousOwner, type TargetSpec } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";
import { describeProcesses, findProcesses, leftoverProcesses } from "./support/processes.js";
import { replicaProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { startTcpProxy, type TcpProxy } from "./support/tcpProxy.js";
import { until, untilAsync } from "./support/wait.js";

const CHILD = fileURLToPath(new URL("./support/replicaChild.mjs", import.meta.url));
const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));
const TARGETS = Number(process.env.REPLICA_TARGETS ?? "3");
/**
 * Short leases, so takeovers happen within the test; the same on every
 * replica. A slow poll: commands reach their owner through LISTEN/NOTIFY, and
 * a new owner reads those its predecessor left when it takes a target.
 */
const REPLICAS = { leaseTtlMs: 3000, heartbeatMs: 500, triggerPollMs: 30_000 };
/** The longest a revision may take to reach every target: about 10 s of engine work per target on 2 cores. */
const SETTLE_MS = Math.max(240_000, TARGETS * 10_000);

interface Replica {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  member: string;
  readonly events: Record<string, unknown>[];
  stderr: string;
  send(command: Record<string, unknown>): void;
  readonly exited: Promise<void>;
}

interface JournalEntry {
  readonly writer: string;
  readonly content: string;
  readonly phase: "start" | "end";
  readonly start: number;
  readonly end?: number;
  /** The provider process that wrote it. */
  readonly pid: number;
}

describe("replicas sharing targets on PostgreSQL", { timeout: SETTLE_MS * 2 }, () => {
  let cluster: PostgresCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let url: string;
  let db: PostgresStore;
  let journal: string;
  let targets: TargetSpec[];
  const replicas: Replica[] = [];
  /** Each replica's own way to the database, so one can be cut off. */
  const proxies = new Map<string, TcpProxy>();
  /** When a replica's engine was SIGKILLed: a write it left unfinished ends at the first of these after its start. */
  const cuts: number[] = [];
  const names = Array.from({ length: TARGETS }, (_, i) => `t${i}`);

  const startReplica = async (name: string): Promise<Replica> => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: cluster.port });
    proxies.set(name, proxy);
    const proxied = new URL(url);
    proxied.port = String(proxy.port);
    const proc = spawn(
      process.execPath,
      [
        CHILD,
        JSON.stringify({
          dataDir: join(sandbox.dir, `data-${name}`),
          store: proxied.toString(),
          targets,
          replicas: REPLICAS,
        }),
      ],
      {
        cwd: import.meta.dirname,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, ...sandbox.env },
      },
    );
    const replica: Replica = {
      name,
      proc,
      pid: proc.pid as number,
      member: "",
      events: [],
      stderr: "",
      send: (command) => proc.stdin?.write(`${JSON.stringify(command)}\n`),
      exited: new Promise((resolve) => proc.on("close", () => resolve())),
    };
    let buffered = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const event = JSON.parse(line) as Record<string, unknown>;
        if (event.event === "ready") replica.member = event.member as string;
        replica.events.push(event);
      }
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      replica.stderr += chunk.toString();
      // REPLICA_LOG_DIR keeps each replica's log for a look after the test.
      if (process.env.REPLICA_LOG_DIR)
        appendFileSync(join(process.env.REPLICA_LOG_DIR, `${name}.log`), chunk);
    });
    replicas.push(replica);
    return replica;
  };

  const live = () => replicas.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null);
  const readJournal = (): JournalEntry[] =>
    existsSync(journal)
      ? readFileSync(journal, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as JournalEntry)
      : [];
  /** Completed writes of each target's content for a revision tag. */
  const writes = (tag: string) =>
    names.map(
      (t) =>
        readJournal().filter((e) => e.writer === t && e.phase === "end" && e.content === `${t}:${tag}`)
          .length,
    );
  const commit = (tag: string, delayMs = 0) => {
    repo.commit({ "content.json": JSON.stringify({ content: tag, delayMs }) }, `content ${tag}`);
    return repo.head();
  };
  const allApplied = (revision: string) =>
    until(
      async () => {
        const applied = new Map((await db.listStatuses()).map((s) => [s.name, s.lastAppliedRevision]));
        return names.every((t) => applied.get(t) === revision);
      },
      `every target to apply ${revision.slice(0, 8)}`,
      SETTLE_MS,
    );
  const openTriggers = async () =>
    Number(await cluster.psql("SELECT count(*) FROM driftless_triggers WHERE done_at IS NULL", "replicas"));
  /** Each target's owner from the leases, in one read. */
  const leaseOwners = async () => new Map((await db.listTargetLeases()).map((l) => [l.target, l.owner]));
  const ownerOf = async (target: string) => (await leaseOwners()).get(target);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** No two updates of one target's stack overlapped; a write cut short by a kill ends at the kill. */
  const expectNoOverlap = () => {
    const entries = readJournal();
    for (const t of names) {
      const ends = entries.filter((e) => e.writer === t && e.phase === "end");
      const cut = entries
        .filter((e) => e.writer === t && e.phase === "start" && !ends.some((x) => x.start === e.start))
        .map((e) => ({
          start: e.start,
          end: Math.min(Date.now(), ...cuts.filter((c) => c >= e.start)),
          pid: e.pid,
        }));
      const spans = [...ends.map((e) => ({ start: e.start, end: e.end as number, pid: e.pid })), ...cut].sort(
        (a, b) => a.start - b.start,
      );
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i]?.start, `updates of ${t} overlap: ${JSON.stringify(spans)}`).toBeGreaterThanOrEqual(
          spans[i - 1]?.end as number,
        );
      }
    }
  };
  /** Sends a reconcile of every target, round robin over the given replicas; resolves the queued ids. */
  const reconcileAll = (via: readonly Replica[]) => {
    const before = via.map((r) => r.events.length);
    for (const [i, t] of names.entries()) via[i % via.length]?.send({ reconcile: t });
    return until(() => {
      const queued = via.flatMap((r, i) => r.events.slice(before[i]).filter((e) => e.event === "queued"));
      return queued.length >= names.length && queued;
    }, "every reconcile to be accepted");
  };
  const ownedBy = async (replica: Replica) => {
    const owners = await leaseOwners();
    return names.filter((t) => owners.get(t) === replica.member);
  };
  /** The replicas with the number of targets each owns, most first. */
  const byOwned = async (among: Replica[]) => {
    const counted = await Promise.all(among.map(async (r) => ({ r, n: (await ownedBy(r)).length })));
    return counted.sort((x, y) => y.n - x.n).map((c) => c.r);
  };

  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase("replicas");
    sandbox = engineSandbox("driftless-replicas-");
    journal = join(sandbox.dir, "journal.jsonl");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: replicaProgramSeed(sandbox.dir) });
    targets = names.map((name) => ({
      name,
      repo: repo.fileUrl,
      ref: "main",
      stack: name,
      passphrase: "test-passphrase",
      config: { target: name, outDir: join(sandbox.dir, "site"), journal },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
      interval: "1h",
      resync: "1h",
    }));
    db = await PostgresStore.open(url);
  });

  afterAll(async () => {
    if (process.env.REPLICA_LOG_DIR && journal && existsSync(journal))
      copyFileSync(journal, join(process.env.REPLICA_LOG_DIR, "journal.jsonl"));
    for (const replica of live()) replica.proc.kill("SIGKILL");
    for (const proxy of proxies.values()) await proxy.close();
    await db?.close();
    await cluster?.dispose();
    sandbox?.dispose();
  });

  it("shares the targets of three replicas starting at once against an empty database", async () => {
    const v1 = commit("v1");
    for (const name of ["a", "b", "c"]) await startReplica(name);
    await until(() => replicas.every((r) => r.member), "every replica to start");
    await allApplied(v1);
    expect(writes("v1")).toEqual(names.map(() => 1));
    // Migrated once, although three replicas started on an empty database together.
    const [migrations, latest] = (
      await cluster.psql("SELECT count(*), max(version) FROM driftless_schema", "replicas")
    ).split("|");
    expect(migrations).toBe(latest);
    // Every target ends with the member it hashes to among the live ones, each owned once.
    const members = replicas.map((r) => r.member).sort();
    expect((await db.listMembers()).map((m) => m.id)).toEqual(members);
    await until(async () => {
      const owners = await leaseOwners();
      return names.every((t) => owners.get(t) === rendezvousOwner(members, t));
    }, "every target to be owned by the member it hashes to");
    expectNoOverlap();
  });

  it("applies each new revision once per target, whichever replica a command reaches", async () => {
    const v2 = commit("v2");
    const queued = await reconcileAll(replicas);
    await allApplied(v2);
    expect(writes("v2")).toEqual(names.map(() => 1));
    await untilAsync(async () => (await openTriggers()) === 0, "every command to be done");
    // A command received by a replica that does not own the target names the owner's run once done.
    for (const { target, id } of queued as { target: string; id: string }[]) {
      const trigger = await db.getTrigger(id);
      if (trigger) expect((await db.getRun(trigger.runId as string))?.target).toBe(target);
    }
    // `driftless status` reads the same database and names each target's owner.
    const configFile = join(sandbox.dir, "driftless.yaml");
    writeFileSync(
      configFile,
      JSON.stringify({ dataDir: join(sandbox.dir, "data-cli"), store: url, targets }),
    );
    const status = spawnSync(process.execPath, [CLI, "status", "--config", configFile, "--json"], {
      encoding: "utf8",
    });
    expect(status.status, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as { name: string; owner?: string }[];
    const owners = await leaseOwners();
    expect(new Map(shown.map((s) => [s.name, s.owner]))).toEqual(
      new Map(names.map((t) => [t, owners.get(t)])),
    );
    expectNoOverlap();
  });

  it("replaces a replica killed in the middle of up: its targets applied by the others, the stack recovered", async () => {
    const v3 = commit("v3", 4000);
    const [victim] = await byOwned([...replicas]);
    if (!victim) throw new Error("no replica");
    const survivors = replicas.filter((r) => r !== victim);
    const victimTargets = await ownedBy(victim);
    expect(victimTargets.length).toBeGreaterThan(0);
    await reconcileAll(survivors);
    const hit = await until(
      () =>
        readJournal().find(
          (e) => victimTargets.includes(e.writer) && e.phase === "start" && e.content.endsWith(":v3"),
        ),
      "the victim's update to start",
      SETTLE_MS,
    );
    process.kill(-victim.pid, "SIGKILL");
    cuts.push(Date.now());
    await victim.exited;
    await allApplied(v3);
    for (const t of victimTargets) expect(survivors.map((r) => r.member)).toContain(await ownerOf(t));
    const runs = await db.listRuns(hit.writer, 10);
    expect(runs.some((r) => r.result === "interrupted")).toBe(true);
    expect(runs.some((r) => r.result === "applied" && r.revision === v3)).toBe(true);
    expect(writes("v3")).toEqual(names.map(() => 1));
    expectNoOverlap();
    await untilAsync(
      async () => (await openTriggers()) === 0,
      "every accepted command to be done",
      SETTLE_MS,
    );
    expect(
      await cluster.psql("SELECT count(*) FROM pulumi_state WHERE key LIKE '%.pulumi/locks/%'", "replicas"),
    ).toBe("0");
  });

  it("keeps a replica paused past its lease from writing stale status once it resumes", async () => {
    const v4 = commit("v4", 4000);
    const [paused, other] = await byOwned(live());
    if (!paused || !other) throw new Error("two replicas should be left");
    const pausedTargets = await ownedBy(paused);
    expect(pausedTargets.length).toBeGreaterThan(0);
    // Through the other replica: the paused one's targets reach it through the inbox.
    for (const t of names) other.send({ reconcile: t });
    const hit = await until(
      () =>
        readJournal().find(
          (e) => pausedTargets.includes(e.writer) && e.phase === "start" && e.content.endsWith(":v4"),
        ),
      "the paused replica's update to start",
      SETTLE_MS,
    );
    const stalled = (await db.listRuns(hit.writer, 1))[0];
    const logged = paused.stderr.length;
    process.kill(paused.pid, "SIGSTOP");
    try {
      await until(async () => {
        const owners = await leaseOwners();
        return pausedTargets.every((t) => owners.get(t) === other.member);
      }, "the other replica to take the targets");
    } finally {
      // Its engine may hold Pulumi's lock while it is stopped: the other replica applies once the
      // lock is free; the lease and the fence have moved already.
      process.kill(paused.pid, "SIGCONT");
    }
    // It drops them as it resumes: its leases could not have been renewed in time (self-fencing), or
    // its heartbeat says another replica owns them, whichever it notices first.
    await until(
      () => /; dropping it/.test(paused.stderr.slice(logged)),
      "the resumed replica to drop its targets",
    );
    // Dropping them kills its engine at once: the provider in the middle of the update is gone
    // (the update it left unfinished ends there).
    cuts.push(await until(() => !alive(hit.pid) && Date.now(), "the resumed replica's provider to stop"));
    // Its run went on after it resumed, and the run's end was turned away: refused by the fence, or,
    // when it was stopped in the middle of a transaction (the database ends such a session after
    // `idleInTransactionMs`), by the store's breaker that the dead connection opened. Either way
    // nothing it wrote landed: the run and the statuses are checked below.
    await until(
      () =>
        /a stale write for the target was refused|"msg":"the store is unavailable; the run is retried"/.test(
          paused.stderr.slice(logged),
        ),
      "the resumed replica's stale write to be turned away",
    );
    await allApplied(v4);
    await untilAsync(async () => (await openTriggers()) === 0, "every command to be done", SETTLE_MS);
    // The run it was in the middle of stays as the new owner recorded it: its end was refused.
    expect(stalled?.result).toBeUndefined();
    expect((await db.getRun(stalled?.id as string))?.result).toBe("interrupted");
    const applied = new Map((await db.listStatuses()).map((s) => [s.name, s.lastAppliedRevision]));
    expect(names.map((t) => applied.get(t))).toEqual(names.map(() => v4));
    expectNoOverlap();
  });

  it("stops the engine of a replica cut off from the database before another takes its targets", async () => {
    const v5 = commit("v5", 6000);
    const [cutOff, other] = await byOwned(live());
    if (!cutOff || !other) throw new Error("two replicas should be left");
    const cutTargets = await ownedBy(cutOff);
    expect(cutTargets.length).toBeGreaterThan(0);
    for (const t of names) other.send({ reconcile: t });
    const hit = await until(
      () =>
        readJournal().find(
          (e) => cutTargets.includes(e.writer) && e.phase === "start" && e.content.endsWith(":v5"),
        ),
      "the cut-off replica's update to start",
      SETTLE_MS,
    );
    const logged = cutOff.stderr.length;
    const proxy = proxies.get(cutOff.name) as TcpProxy;
    proxy.cut();
    try {
      // Its engine (the CLI, the language host, the provider in the middle of the 6 s update) is
      // gone before the lease it cannot renew lapses and the other replica takes the targets.
      const engineGoneAt = await until(
        () =>
          findProcesses({ roots: [cutOff.pid] }).every(
            (p) => p.pid === cutOff.pid || !/pulumi/.test(p.command),
          ) && Date.now(),
        "the cut-off replica's engine to stop",
      );
      cuts.push(engineGoneAt);
      await until(async () => {
        const owners = await leaseOwners();
        return cutTargets.every((t) => owners.get(t) === other.member);
      }, "the other replica to take the cut-off replica's targets");
      // When the first of them changed hands, on the database's clock (the same machine's).
      const takenAt = Number(
        await cluster.psql(
          `SELECT min(acquired_at) FROM driftless_target_leases WHERE target IN (${cutTargets.map((t) => `'${t}'`).join(", ")})`,
          "replicas",
        ),
      );
      expect(engineGoneAt).toBeLessThan(takenAt);
      expect(cutOff.stderr.slice(logged)).toContain("could not renew the target leases in time");
      // The update it was in the middle of never finished: it wrote nothing after the takeover.
      expect(readJournal().some((e) => e.phase === "end" && e.start === hit.start)).toBe(false);
    } finally {
      proxy.heal();
    }
    await allApplied(v5);
    await untilAsync(async () => (await openTriggers()) === 0, "every command to be done", SETTLE_MS);
    expect((await db.listRuns(hit.writer, 5)).some((r) => r.result === "interrupted")).toBe(true);
    // Back on the network, it rejoins by itself.
    await untilAsync(
      async () => (await db.listMembers()).some((m) => m.id === cutOff.member),
      "the cut-off replica to rejoin",
    );
    expectNoOverlap();
  });

  it("goes on after the database restarts in the middle of a run", async () => {
    const v6 = commit("v6", 3000);
    await reconcileAll(live());
    await until(
      () => readJournal().find((e) => e.phase === "start" && e.content.endsWith(":v6")),
      "an update to start",
      SETTLE_MS,
    );
    await cluster.stop();
    await cluster.start();
    await allApplied(v6);
    await untilAsync(async () => (await openTriggers()) === 0, "every command to be done", SETTLE_MS);
    expect(live()).toHaveLength(2);
    expectNoOverlap();
  });

  it("leaves no process running once the replicas stop", async () => {
    const running = live();
    for (const replica of running) replica.proc.kill("SIGTERM");
    await Promise.all(running.map((r) => r.exited));
    expect(await db.listMembers()).toEqual([]);
    const left = await leftoverProcesses({ paths: [sandbox.dir] }, 10_000);
    expect(left, describeProcesses(left)).toEqual([]);
  });
});
