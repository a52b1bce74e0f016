// The dashboard at scale: the overview of 1,000 targets rendered by the server
// and by Chromium, and what 50 idle open pages cost (server and browser CPU).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { listen, Reconciler, SqliteStore, type TargetStatus } from "@driftless/gitops";
import { chromium } from "playwright-core";
import { type Figure, progress, siteBench, stats, time } from "./lib.js";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** CPU seconds (user + system) used so far by this process's descendants, from /proc. */
function descendantsCpuSeconds(): number {
  const tick = 100; // USER_HZ on Linux
  const procs = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(entry), {
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / tick,
      });
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  for (const [pid, p] of procs) {
    let parent = p.ppid;
    while (parent > 1 && parent !== process.pid) parent = procs.get(parent)?.ppid ?? 0;
    if (parent === process.pid && pid !== process.pid) total += p.cpu;
  }
  return total;
}

/** A fleet of `targetCount` targets that have been running (statuses and one run each), served with `publicReads`. */
export async function uiFleet(targetCount: number) {
  const bench = siteBench(1);
  const head = bench.repo.head();
  const store = new SqliteStore(join(bench.dataDir, "driftless.db"));
  const name = (i: number) => `t-${String(i).padStart(4, "0")}`;
  const now = new Date().toISOString();
  // Statuses and one run per target, as a fleet that has been running would have them.
  const seed = (i: number) => {
    const drifted = i % 10 === 3;
    const stalled = i % 25 === 7;
    const condition = (type: "Ready" | "Drifted" | "Stalled", status: boolean, reason: string) => ({
      type,
      status,
      reason,
      message: `${type} ${reason}`,
      since: now,
    });
    const status: TargetStatus = {
      name: name(i),
      conditions: [
        condition("Ready", !stalled, stalled ? "ProgramFailed" : "Applied"),
        condition("Drifted", drifted, drifted ? "DriftDetected" : "InSync"),
        condition("Stalled", stalled, stalled ? "ProgramFailed" : "Applied"),
      ],
      lastAppliedRevision: head,
      lastAttemptedRevision: head,
      lastDriftCheckAt: now,
      lastAppliedAt: now,
      revisionAppliedAt: now,
      updatedAt: now,
    };
    store.putStatus(status);
    const run = {
      id: `run-${i}`,
      target: name(i),
      trigger: "interval" as const,
      startedAt: now,
      drift: drifted,
      // A finished run keeps its log's last lines in its record.
      log: Array.from({ length: 30 }, (_, l) => `${now} [step] line ${l} of run ${i}`).join("\n"),
    };
    store.startRun(run);
    store.finishRun({ ...run, finishedAt: now, result: drifted ? "drift-detected" : "unchanged" });
  };
  for (let i = 1; i < targetCount; i++) seed(i);
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    store,
    installDependencies: false,
    targets: Array.from({ length: targetCount }, (_, i) => ({
      name: name(i),
      repo: bench.repo.fileUrl,
      stack: name(i),
      passphrase: "bench",
      config: { outDir: join(bench.outDir, name(i)) },
      env: bench.env,
      interval: "1h",
      resync: "1h",
      suspend: i % 50 === 11,
    })),
  });
  // One real run fills the local mirror, as a fleet's first runs do: rows show the commit subject.
  const first = await reconciler.reconcile(name(0));
  if (first.result !== "applied") throw new Error(`the first run ended ${first.result}: ${first.error}`);
  seed(0);
  // Scheduled, so rows show their next check; startup checks skip (revision unchanged).
  reconciler.start();
  await reconciler.whenIdle();
  const server = await listen(reconciler, { port: 0, publicReads: true });
  return {
    reconciler,
    server,
    url: `${server.url}/ui`,
    name,
    dispose: async () => {
      await server.shutdown({ graceMs: 1000 });
      bench.dispose();
    },
  };
}

export async function uiBenchmark(targetCount: number, runs: number, idleSeconds = 30): Promise<Figure[]> {
  const fleet = await uiFleet(targetCount);
  const { url, name } = fleet;
  // playwright gives the browser a fresh temporary --user-data-dir and removes it on close.
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  try {
    progress(`dashboard: overview of ${targetCount} targets, ${runs} runs`);
    await (await fetch(url)).text();
    const serverMs: number[] = [];
    for (let i = 0; i < runs; i++) serverMs.push(await time(async () => (await fetch(url)).text()));
    const page = await (await browser.newContext()).newPage();
    const browserMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto(url, { waitUntil: "load" });
      const rows = await page.locator("tbody tr").count();
      if (rows !== targetCount) throw new Error(`the overview shows ${rows} rows, not ${targetCount}`);
      browserMs.push(
        await page.evaluate(() => {
          // Runs in the page; typed loosely because the bench compiles without the DOM library.
          const perf = (globalThis as unknown as { performance: { getEntriesByType(t: string): unknown[] } })
            .performance;
          const nav = perf.getEntriesByType("navigation")[0] as
            | { loadEventEnd: number; startTime: number }
            | undefined;
          return nav ? nav.loadEventEnd - nav.startTime : Number.NaN;
        }),
      );
    }
    await page.close();

    /** CPU share of one core (server + Chromium) while 50 pages at `path(i)` sit open. */
    const idle = async (path: (i: number) => string, live: boolean) => {
      // One context per page: Chromium allows 6 connections per server over HTTP/1.1 and
      // each page's event stream holds one; separate contexts have separate pools, as
      // 50 people's browsers would.
      const contexts = [];
      for (let i = 0; i < 50; i++) {
        const context = await browser.newContext();
        const p = await context.newPage();
        await p.goto(`${url}${path(i)}`);
        if (live) await p.waitForSelector("body[data-live=live]");
        contexts.push(context);
      }
      // Let the pages settle before measuring.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const cpu0 = process.cpuUsage();
      const browser0 = descendantsCpuSeconds();
      const wall0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      const wallS = (performance.now() - wall0) / 1000;
      const serverCpu = process.cpuUsage(cpu0);
      const serverS = (serverCpu.user + serverCpu.system) / 1e6;
      const browserS = descendantsCpuSeconds() - browser0;
      for (const context of contexts) await context.close();
      return { percent: ((serverS + browserS) / wallS) * 100, serverS, browserS, wallS };
    };
    progress(`dashboard: 50 idle pages without, then with, event streams, ${idleSeconds}s each`);
    const still = await idle(() => "/login", false);
    const open = await idle((i) => `/targets/${name(i)}`, true);
    const percent = open.percent;
    const serverStats = stats(serverMs);
    const browserStats = stats(browserMs);
    return [
      {
        id: "ui-overview-server",
        name: `dashboard overview, ${targetCount} targets: server response`,
        unit: "ms",
        value: serverStats,
        goal: "≤ 300 ms",
        met: serverStats.median <= 300,
        notes: "GET /ui to the last byte (statuses and last runs from SQLite)",
      },
      {
        id: "ui-overview-browser",
        name: `dashboard overview, ${targetCount} targets: in Chromium`,
        unit: "ms",
        value: browserStats,
        goal: "≤ 1 s",
        met: browserStats.median <= 1000,
        notes: "navigation start to the load event (server time included)",
      },
      {
        id: "ui-idle-cpu",
        name: "dashboard: 50 idle open pages",
        unit: "% core",
        value: stats([percent]),
        baseline: stats([still.percent]),
        ratio: percent / still.percent,
        goal: "≤ 2 % of one core",
        met: percent <= 2,
        notes: `server ${open.serverS.toFixed(2)} s + Chromium ${open.browserS.toFixed(2)} s of CPU over ${open.wallS.toFixed(0)} s with 50 target pages following events; baseline: 50 login pages (no stream), server ${still.serverS.toFixed(2)} s + Chromium ${still.browserS.toFixed(2)} s`,
      },
    ];
  } finally {
    await browser.close();
    await fleet.dispose();
  }
}
