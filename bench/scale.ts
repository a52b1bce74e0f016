// The scheduler at scale, in a process of its own so its CPU and memory are
// its alone: N targets on a 1-minute interval whose revisions never change.
// Prints one JSON line: CPU share, peak RSS, worst lateness of a scheduled check.
import { join } from "node:path";
import { PulumiEngine, Reconciler, SqliteStore, type TargetSpec } from "@driftless/gitops";

const { dataDir, repos, targets, seconds } = JSON.parse(process.argv[2] as string) as {
  dataDir: string;
  repos: { url: string; head: string }[];
  targets: number;
  seconds: number;
};

// Every target starts out applied at its repository's head with a drift check
// just done, as after a first pass; what remains is the steady no-op load.
const store = new SqliteStore(join(dataDir, "driftless.db"));
const now = new Date().toISOString();
const specs: TargetSpec[] = [];
for (let i = 0; i < targets; i++) {
  const repo = repos[i % repos.length] as { url: string; head: string };
  const name = `t-${i}`;
  await store.putStatus({
    name,
    conditions: [],
    lastAppliedRevision: repo.head,
    lastDriftCheckAt: now,
    updatedAt: now,
  });
  specs.push({ name, repo: repo.url, stack: name, passphrase: "bench", interval: "1m", resync: "24h" });
}
const engine = new PulumiEngine();
const reconciler = await Reconciler.create({
  dataDir,
  store,
  engine,
  targets: specs,
  installDependencies: false,
});
reconciler.start();

// Let the start-up pass (one decision per target at once) settle, then measure.
await new Promise((r) => setTimeout(r, 3000));
while (reconciler.takeSchedulerStats().decisions > 0 || reconciler.queueDepth > 0) {
  await new Promise((r) => setTimeout(r, 2000));
}
let peakRss = 0;
let worstLateness = 0;
let decisions = 0;
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const stats = reconciler.takeSchedulerStats();
  worstLateness = Math.max(worstLateness, stats.maxLatenessMs);
  decisions += stats.decisions;
}, 1000);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(sampler);
const cpu = process.cpuUsage(cpuStart);
const wall = performance.now() - wallStart;
const last = reconciler.takeSchedulerStats();
await reconciler.stop({ graceMs: 1000 });
console.log(
  JSON.stringify({
    cpuShare: (cpu.user + cpu.system) / 1000 / wall,
    peakRssMb: peakRss / 1024 / 1024,
    worstLatenessMs: Math.max(worstLateness, last.maxLatenessMs),
    decisions: decisions + last.decisions,
    engineOperations: engine.invocations,
    seconds: wall / 1000,
  }),
);
