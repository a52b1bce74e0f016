// One replica of the replicas benchmark, in a process of its own so its CPU
// and memory are its alone: every target of the bench, shared through one
// PostgreSQL database with the other replicas. It prints one JSON line when
// it is up ({ member }), then answers each `measure <seconds>` line on stdin
// with one JSON line of figures for that window; `stop` ends it cleanly.
// Plain JavaScript, as a service embedding the reconciler runs: Node's type
// stripping would add its own ~17 MB to the memory measured.
import { createInterface } from "node:readline";
import { PulumiEngine, Reconciler } from "@driftless/gitops";

/** @type {{ url: string; dataDir: string; repos: { url: string }[]; targets: number; leaseTtlMs: number }} */
const { url, dataDir, repos, targets, leaseTtlMs } = JSON.parse(process.argv[2]);

/** @type {import("@driftless/gitops").TargetSpec[]} */
const specs = Array.from({ length: targets }, (_, i) => {
  const repo = repos[i % repos.length];
  const name = `t-${i}`;
  return { name, repo: repo.url, stack: name, passphrase: "bench", interval: "1m", resync: "24h" };
});
const engine = new PulumiEngine();
const reconciler = await Reconciler.create({
  dataDir,
  store: url,
  engine,
  targets: specs,
  installDependencies: false,
  replicas: { leaseTtlMs },
});
reconciler.start();
const member = reconciler.replicaStats()?.member;
process.stdout.write(`${JSON.stringify({ member })}\n`);

/** @param {number} seconds */
async function measure(seconds) {
  reconciler.takeSchedulerStats();
  let peakRss = 0;
  let worstLateness = 0;
  let decisions = 0;
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const stats = reconciler.takeSchedulerStats();
    worstLateness = Math.max(worstLateness, stats.maxLatenessMs);
    decisions += stats.decisions;
  };
  const sampler = setInterval(sample, 1000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  sample();
  const cpu = process.cpuUsage(cpuStart);
  const wall = performance.now() - wallStart;
  process.stdout.write(
    `${JSON.stringify({
      cpuShare: (cpu.user + cpu.system) / 1000 / wall,
      peakRssMb: peakRss / 1024 / 1024,
      worstLatenessMs: worstLateness,
      decisions,
      engineOperations: engine.invocations,
      replica: reconciler.replicaStats(),
      memory: process.memoryUsage(),
    })}\n`,
  );
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === "measure") await measure(Number(arg));
  if (command === "stats")
    process.stdout.write(`${JSON.stringify({ replica: reconciler.replicaStats() })}\n`);
  if (command === "stop") break;
}
await reconciler.stop({ graceMs: 1000 });
process.exit(0);
