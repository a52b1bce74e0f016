// A service embedding a reconciler on PostgreSQL keeps answering its own
// route while the database is paused (SIGSTOP of its processes, as in a
// network partition) and while it is stopped; the reconciler reports not
// ready meanwhile and ready again by itself. The host runs in a child process
// (test/support/hostChild.mjs), which measures its own event-loop delay.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";
import { until } from "./support/wait.js";

const CHILD = fileURLToPath(new URL("./support/hostChild.mjs", import.meta.url));
/** How long PostgreSQL stays paused. */
const PAUSE_MS = 30_000;
/**
 * The longest answer of the host's route and stall of its event loop this test accepts: a wait
 * on the database lasts seconds; the goals (200 ms, 100 ms) are the benchmark's.
 */
const STALL_MS = 1_000;

interface Phase {
  readonly name: string;
  readonly pings: number[];
  loopMaxMs?: number;
}

describe("a host embedding a reconciler on PostgreSQL", () => {
  let cluster: PostgresCluster;
  let dir: string;
  let host: ChildProcess;
  let base: string;

  beforeAll(async () => {
    cluster = await startPostgres();
    const store = await cluster.createDatabase("host");
    dir = mkdtempSync(join(tmpdir(), "driftless-host-"));
    host = spawn(
      process.execPath,
      [CHILD, JSON.stringify({ dataDir: join(dir, "data"), store, replicas: { leaseTtlMs: 8000 } })],
      { cwd: import.meta.dirname, stdio: ["ignore", "pipe", "inherit"] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: host.stdout as NodeJS.ReadableStream }).once("line", resolve);
      host.once("exit", (code) => reject(new Error(`the host exited with ${code}`)));
    });
    base = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  }, 120_000);

  afterAll(async () => {
    cluster?.resume();
    if (host && host.exitCode === null) {
      host.kill("SIGTERM");
      await new Promise((resolve) => host.once("exit", resolve));
    }
    await cluster?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Pings the host's own route every 20 ms until `during` settles; returns each answer's time. */
  const pinging = async (during: Promise<unknown>): Promise<number[]> => {
    const times: number[] = [];
    let done = false;
    void during.finally(() => {
      done = true;
    });
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${base}/ping`);
      await response.text();
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return times;
  };
  const ready = async () => (await fetch(`${base}/readyz`)).status === 200;
  /** The host's event-loop delay since the last call, in milliseconds. */
  const loopMax = async () =>
    ((await (await fetch(`${base}/loop?reset=1`)).json()) as { maxMs: number }).maxMs;
  const phase = async (name: string, work: () => Promise<unknown>): Promise<Phase> => {
    await loopMax();
    const pings = await pinging(work());
    return { name, pings, loopMaxMs: await loopMax() };
  };

  it("keeps its route and event loop responsive through a pause and a restart of PostgreSQL, and recovers by itself", async () => {
    await until(() => ready(), "the reconciler to be ready", 30_000);
    const phases: Phase[] = [];
    phases.push(await phase("healthy", () => new Promise((resolve) => setTimeout(resolve, 3000))));

    let notReadyWhilePaused = false;
    cluster.pause();
    try {
      phases.push(
        await phase("paused", async () => {
          const until = Date.now() + PAUSE_MS;
          while (Date.now() < until) {
            if (!(await ready())) notReadyWhilePaused = true;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }),
      );
    } finally {
      cluster.resume();
    }
    phases.push(await phase("resumed", () => until(() => ready(), "ready again after the pause", 30_000)));

    let notReadyWhileStopped = false;
    phases.push(
      await phase("stopped", async () => {
        await cluster.stop();
        await until(async () => !(await ready()), "not ready while stopped", 15_000);
        notReadyWhileStopped = true;
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }),
    );
    phases.push(
      await phase("restarted", async () => {
        await cluster.start();
        await until(() => ready(), "ready again after the restart", 30_000);
      }),
    );

    const summary = phases.map((p) => ({
      phase: p.name,
      pings: p.pings.length,
      routeMaxMs: Math.round(Math.max(...p.pings)),
      loopMaxMs: Math.round(p.loopMaxMs ?? Number.NaN),
    }));
    console.log(JSON.stringify(summary));
    expect(notReadyWhilePaused).toBe(true);
    expect(notReadyWhileStopped).toBe(true);
    // What this proves is that nothing waits on the database: the code before waited in a
    // worker thread and stalled the host for the database's whole timeout (15 s). Whether the
    // stalls stay within the 100 ms is a benchmark's to say (`make bench`, --only host,
    // measured on a quiet machine): beside two other test files on 2 cores the host is at times
    // not scheduled for a tenth of a second, in every phase, which is the machine's, not ours.
    for (const p of summary) {
      // The phases that last seconds were pinged throughout; recovery may take a few pings only.
      expect(p.pings, p.phase).toBeGreaterThan(["resumed", "restarted"].includes(p.phase) ? 0 : 50);
      expect(p.routeMaxMs, `${p.phase}: the route's slowest answer`).toBeLessThan(STALL_MS);
      expect(p.loopMaxMs, `${p.phase}: the event loop's longest stall`).toBeLessThan(STALL_MS);
    }
  }, 180_000);
});
