// Replicas sharing targets on one PostgreSQL database: three replica processes
// (bench/replica.mjs) with N unchanged targets on a 1-minute interval. Measures
// each replica's CPU and memory, the database's transactions per second and
// the worst lateness in a steady window, then the takeover time after a
// SIGKILL of one replica (several trials, a fresh replica joining between
// them), and counts double applies in the run history.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { engineSandbox } from "../test/support/engine.js";
import { createRepo } from "../test/support/git.js";
import { startPostgres } from "../test/support/postgres.js";
import { seedUnchangedTargets } from "../test/support/seed.js";
import { type Figure, progress, stats } from "./lib.js";

const child = fileURLToPath(new URL("./replica.mjs", import.meta.url));
const REPLICAS = 3;
const REPOS = 10;
/** The replicas' default lease TTL (`replicas: true`), which the takeover goal is reckoned from. */
const LEASE_TTL_MS = 20_000;
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

interface Replica {
  readonly process: ChildProcess;
  readonly member: string;
  readonly lines: Interface;
  next(): Promise<Record<string, unknown>>;
}

interface WindowFigures {
  readonly cpuShare: number;
  readonly peakRssMb: number;
  readonly worstLatenessMs: number;
  readonly decisions: number;
  readonly engineOperations: number;
  readonly replica?: { owned: number; renewalFailures: number; takeovers: number };
  readonly memory?: NodeJS.MemoryUsage;
}

export async function replicasBenchmark(targets: number, seconds: number, trials: number): Promise<Figure[]> {
  const sandbox = engineSandbox("driftless-replicas-");
  const pg = await startPostgres();
  const replicas: Replica[] = [];
  try {
    const url = await pg.createDatabase("bench");
    const repos = Array.from({ length: REPOS }, (_, i) => {
      const repo = createRepo(join(sandbox.dir, `repo-${i}`));
      return { url: repo.fileUrl, head: repo.commit({ "README.md": `repo ${i}\n` }, "init") };
    });
    // Every target starts out applied at its repository's head, as after a first pass.
    await seedUnchangedTargets(
      url,
      repos.map((r) => r.head),
      targets,
    );
    const env = { ...process.env, ...sandbox.env, DRIFTLESS_LOG_LEVEL: "silent" };
    const args = (i: number) =>
      JSON.stringify({
        url,
        dataDir: join(sandbox.dir, `data-${i}`),
        repos,
        targets,
        leaseTtlMs: LEASE_TTL_MS,
      });
    let started = 0;
    const startReplica = async (): Promise<Replica> => {
      const proc = spawn(process.execPath, [child, args(started++)], {
        env,
        stdio: ["pipe", "pipe", "inherit"],
      });
      const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
      const iterator = lines[Symbol.asyncIterator]();
      const next = async () => {
        const { value, done } = await iterator.next();
        if (done) throw new Error(`replica ${proc.pid} ended before answering`);
        return JSON.parse(value as string) as Record<string, unknown>;
      };
      const { member } = (await next()) as { member: string };
      return { process: proc, member, lines, next };
    };

    progress(
      `replicas: ${REPLICAS} replicas sharing ${targets} unchanged targets on one PostgreSQL database`,
    );
    replicas.push(...(await Promise.all(Array.from({ length: REPLICAS }, startReplica))));
    await spread(pg, replicas, targets);
    // The start-up pass decides every target once; let it pass before measuring.
    await new Promise((r) => setTimeout(r, 15_000));

    progress(`replicas: steady window of ${seconds}s`);
    const before = await transactions(pg);
    const windowStart = performance.now();
    for (const r of replicas) r.process.stdin?.write(`measure ${seconds}\n`);
    const windows = (await Promise.all(replicas.map((r) => r.next()))) as unknown as WindowFigures[];
    const tps = ((await transactions(pg)) - before) / ((performance.now() - windowStart) / 1000);

    const takeovers: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const slot = trial % REPLICAS;
      const victim = replicas[slot] as Replica;
      const killedAt = performance.now();
      victim.process.kill("SIGKILL");
      await waitFor(async () => (await heldByOthers(pg, victim.member)) === targets, 120_000);
      takeovers.push(performance.now() - killedAt);
      progress(
        `replicas: takeover ${trial + 1}/${trials} in ${((takeovers.at(-1) as number) / 1000).toFixed(1)}s`,
      );
      replicas[slot] = await startReplica();
      await spread(pg, replicas, targets);
    }
    const doubles = Number(
      await pg.psql(
        "SELECT count(*) FROM (SELECT target, revision FROM driftless_runs WHERE result = 'applied' GROUP BY 1, 2 HAVING count(*) > 1) d",
        "bench",
      ),
    );
    const applied = Number(
      await pg.psql("SELECT count(*) FROM driftless_runs WHERE result = 'applied'", "bench"),
    );

    const owned = windows.map((w) => w.replica?.owned ?? 0).join(", ");
    const notes = `${REPLICAS} replicas, ${targets} targets (owned ${owned}), ${seconds}s window, lease TTL ${LEASE_TTL_MS / 1000}s`;
    return [
      {
        id: "replicas-cpu",
        name: `Replicas: CPU share of one core per replica, ${targets} unchanged targets`,
        unit: "%",
        value: stats(windows.map((w) => w.cpuShare * 100)),
        goal: "≤ 3% of one core per replica",
        met: windows.every((w) => w.cpuShare <= 0.03),
        notes,
      },
      {
        id: "replicas-rss",
        name: "Replicas: peak RSS per replica",
        unit: "MB",
        value: stats(windows.map((w) => w.peakRssMb)),
        goal: "≤ 120 MB per replica",
        met: windows.every((w) => w.peakRssMb <= 120),
        notes: `at the window's end, JavaScript heap ${windows.map((w) => mb(w.memory?.heapUsed)).join(", ")} MB of ${windows.map((w) => mb(w.memory?.heapTotal)).join(", ")} MB committed, external ${windows.map((w) => mb(w.memory?.external)).join(", ")} MB; the rest is Node itself (41 MB for an empty process, most of it the node binary's pages) and the code the package loads (75 MB after the import, zod about 8 MB of it)`,
      },
      {
        id: "replicas-db-tps",
        name: "Replicas: database transactions per second, all replicas",
        unit: "tx/s",
        value: stats([tps]),
        notes:
          "pg_stat_database xact_commit + xact_rollback over the window (each store call is one transaction)",
      },
      {
        id: "replicas-lateness",
        name: "Replicas: worst lateness of a scheduled check",
        unit: "ms",
        value: stats(windows.map((w) => w.worstLatenessMs)),
        goal: "≤ 6 s",
        met: windows.every((w) => w.worstLatenessMs <= 6000),
      },
      {
        id: "replicas-takeover",
        name: "Replicas: SIGKILL of a replica → all its targets owned by the others",
        unit: "s",
        value: stats(takeovers.map((ms) => ms / 1000)),
        goal: `≤ lease TTL + 5 s (${LEASE_TTL_MS / 1000 + 5} s)`,
        met: (stats(takeovers).median as number) <= LEASE_TTL_MS + 5000,
        notes: `median of ${trials}; a fresh replica joins and gets its share before each trial`,
      },
      {
        id: "replicas-double-applies",
        name: "Replicas: revisions applied more than once to a target",
        unit: "",
        value: stats([doubles]),
        goal: "0",
        met: doubles === 0,
        notes: `${applied} applied runs in the history`,
      },
    ];
  } finally {
    for (const r of replicas) {
      r.process.stdin?.end("stop\n");
      r.lines.close();
    }
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.process.exitCode !== null || r.process.signalCode !== null) return resolve();
            const kill = setTimeout(() => r.process.kill("SIGKILL"), 10_000);
            r.process.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
          }),
      ),
    );
    await pg.dispose();
    sandbox.dispose();
  }
}

/** Waits until every target is held, unexpired, by one of `replicas`, each holding some. */
async function spread(
  pg: Awaited<ReturnType<typeof startPostgres>>,
  replicas: readonly Replica[],
  targets: number,
) {
  const ids = replicas.map((r) => `'${r.member.replaceAll("'", "''")}'`).join(", ");
  await waitFor(async () => {
    const rows = await pg.psql(
      `SELECT count(*) FROM driftless_target_leases WHERE expires_at > ${NOW_MS} AND owner IN (${ids}) GROUP BY owner`,
      "bench",
    );
    const counts = rows.split(/\s+/).filter(Boolean).map(Number);
    return counts.length === replicas.length && counts.reduce((a, b) => a + b, 0) === targets;
  }, 180_000);
}

/** Targets held, unexpired, by a live member other than `victim`. */
async function heldByOthers(pg: Awaited<ReturnType<typeof startPostgres>>, victim: string): Promise<number> {
  const sql = `SELECT count(*) FROM driftless_target_leases l JOIN driftless_members m ON m.id = l.owner
    WHERE l.expires_at > ${NOW_MS} AND m.expires_at > ${NOW_MS} AND l.owner <> '${victim.replaceAll("'", "''")}'`;
  return Number(await pg.psql(sql, "bench"));
}

async function transactions(pg: Awaited<ReturnType<typeof startPostgres>>): Promise<number> {
  return Number(
    await pg.psql(
      "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'bench'",
      "bench",
    ),
  );
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? "?" : (bytes / 2 ** 20).toFixed(0);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
