// The dashboard at scale: the overview of 1,000 targets rendered by the server
// and by Chromium, and what 50 idle open pages cost (server and browser CPU).
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { listen, Reconciler, SqliteStore, type TargetStatus } from "@driftless/gitops";
import { launchBrowser } from "../test/support/chromium.js";
import { type Figure, progress, siteBench, stats, time } from "./lib.js";

/** The API token the live pages' browsers send, so they may follow the event stream. */
const BENCH_TOKEN = "bench-ui-token";

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
  const seed = async (i: number) => {
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
    await store.putStatus(status);
    const run = {
      id: `run-${i}`,
      target: name(i),
      trigger: "interval" as const,
      startedAt: now,
      drift: drifted,
      // A finished run keeps its log's last lines in its record.
      log: Array.from({ length: 30 }, (_, l) => `${now} [step] line ${l} of run ${i}`).join("\n"),
    };
    await store.startRun(run);
    await store.finishRun({ ...run, finishedAt: now, result: drifted ? "drift-detected" : "unchanged" });
  };
  for (let i = 1; i < targetCount; i++) await seed(i);
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    store,
    installDependencies: false,
    targets: Array.from({ length: targetCount }, (_, i) => ({
      name: name(i),
      repo: bench.repo.fileUrl,
      stack: name(i),
      passphrase: "bench",
      // A secret of its own per target: every page is redacted against all of them.
      secretConfig: { apiToken: `bench-token-${i}-${randomBytes(9).toString("base64url")}` },
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
  await seed(0);
  // Scheduled, so rows show their next check; startup checks skip (revision unchanged).
  reconciler.start();
  await reconciler.whenIdle();
  // Pages are public; their event streams need a session or a token (sent by each browser context).
  const server = await listen(reconciler, {
    port: 0,
    publicReads: true,
    tokens: [BENCH_TOKEN],
    streams: { perClient: 100 },
  });
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

export async function uiBenchmark(targetCount: number, runs: number, idleSeconds = 45): Promise<Figure[]> {
  const fleet = await uiFleet(targetCount);
  const { url, name } = fleet;
  // playwright gives the browser a fresh temporary --user-data-dir and removes it on close.
  const browser = await launchBrowser();
  try {
    progress(`dashboard: overview of ${targetCount} targets, ${runs} runs`);
    // The first view after a start reads every target's last run and looks up commit subjects.
    const coldMs = await time(async () => (await fetch(url)).text());
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

    /**
     * CPU used while 50 pages sit open: by this process (the server; the
     * playwright client beside it idles) and by Chromium, each as % of one core.
     */
    const idle = async (path: ((i: number) => string) | undefined) => {
      // One context per page: Chromium allows 6 connections per server over HTTP/1.1 and
      // each page's event stream holds one; separate contexts have separate pools, as
      // 50 people's browsers would.
      const contexts = [];
      for (let i = 0; i < 50; i++) {
        const context = await browser.newContext({
          extraHTTPHeaders: { authorization: `Bearer ${BENCH_TOKEN}` },
        });
        const p = await context.newPage();
        if (path) {
          await p.goto(`${url}${path(i)}`);
          await p.waitForSelector("body[data-live=live]");
        }
        contexts.push(context);
      }
      // Let the pages settle before measuring: V8 collects garbage for some seconds after a load.
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      const cpu0 = process.cpuUsage();
      const browser0 = descendantsCpuSeconds();
      const wall0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      const wallS = (performance.now() - wall0) / 1000;
      const serverCpu = process.cpuUsage(cpu0);
      const serverS = (serverCpu.user + serverCpu.system) / 1e6;
      const browserS = descendantsCpuSeconds() - browser0;
      for (const context of contexts) await context.close();
      return {
        server: (serverS / wallS) * 100,
        browser: (browserS / wallS) * 100,
        serverS,
        browserS,
        wallS,
      };
    };
    progress(`dashboard: 50 blank pages, 50 live target pages, twice each (A B A B), ${idleSeconds}s each`);
    const blanks: Awaited<ReturnType<typeof idle>>[] = [];
    const opens: Awaited<ReturnType<typeof idle>>[] = [];
    for (let round = 0; round < 2; round++) {
      blanks.push(await idle(undefined));
      opens.push(await idle((i) => `/targets/${name(i)}`));
    }
    const median = (list: typeof blanks, field: "server" | "browser" | "serverS" | "wallS") =>
      stats(list.map((r) => r[field])).median;
    const blank = { server: median(blanks, "server"), browser: median(blanks, "browser") };
    const open = {
      server: median(opens, "server"),
      browser: median(opens, "browser"),
      serverS: median(opens, "serverS"),
      wallS: median(opens, "wallS"),
    };
    // What the dashboard adds: the server's CPU, and Chromium's beyond the same 50 pages blank.
    const added = open.server + Math.max(0, open.browser - blank.browser);
    const serverStats = stats(serverMs);
    const browserStats = stats(browserMs);
    const pct = (n: number) => `${n.toFixed(2)} %`;
    return [
      {
        id: "ui-overview-server",
        name: `dashboard overview, ${targetCount} targets: server response`,
        unit: "ms",
        value: serverStats,
        goal: "≤ 300 ms",
        met: serverStats.median <= 300,
        notes: `GET /ui to the last byte (${(await (await fetch(url)).text()).length} bytes), statuses in one SQLite read, last runs and commit subjects cached; the first view after start (every last run read, subjects looked up with git) took ${coldMs.toFixed(0)} ms`,
      },
      {
        id: "ui-overview-browser",
        name: `dashboard overview, ${targetCount} targets: in Chromium`,
        unit: "ms",
        value: browserStats,
        goal: "≤ 1 s",
        met: browserStats.median <= 1000,
        notes:
          "navigation start to the load event (server time included); all rows in the document, those off screen not laid out (content-visibility)",
      },
      {
        id: "ui-idle-cpu",
        name: "dashboard: 50 idle open pages, CPU they add (server + Chromium beyond blank pages)",
        unit: "% core",
        value: stats([added]),
        baseline: stats([blank.browser]),
        goal: "≤ 2 % of one core",
        met: added <= 2,
        notes: `medians of 2 rounds of ${open.wallS.toFixed(0)} s, blank and live interleaved, each page in its own context: the server process ${pct(open.server)} (${open.serverS.toFixed(2)} s CPU; ${pct(blank.server)} with blank pages); Chromium with 50 live target pages ${pct(open.browser)} (rounds: ${opens.map((r) => pct(r.browser)).join(", ")}) vs ${pct(blank.browser)} with 50 blank pages (baseline column; rounds: ${blanks.map((r) => pct(r.browser)).join(", ")})`,
      },
    ];
  } finally {
    await browser.close();
    await fleet.dispose();
  }
}
