// `make bench`: every benchmark, baselines interleaved with ours, results in
// bench/results/latest.json and a Markdown table in bench/results/latest.md.
// Nothing here asserts a time; missed goals are reported, not failed.
//
//   node --import tsx bench/run.ts [--only id,id] (ids: engine, noop, webhook, scale, components, startup, kubernetes, watch, ui, replicas, host, masking, inventory) [--runs N] [--watch-idle-seconds S] [--watch-idle-targets N] [--watch-quiet-seconds S] [--scale-seconds S] [--targets N] [--replica-targets N] [--replica-seconds S] [--pause-seconds S]
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { componentBenchmark } from "./components.js";
import { engineBenchmarks } from "./engine.js";
import { hostResponsivenessBenchmark } from "./hostResponsiveness.js";
import { inventoryBenchmark } from "./inventory/index.js";
import { kubernetesBenchmark } from "./kubernetes.js";
import { type Figure, progress } from "./lib.js";
import { maskingBenchmark } from "./masking.js";
import { noopBenchmarks } from "./noop.js";
import { replicasBenchmark } from "./replicas.js";
import { scaleBenchmark } from "./scaleRun.js";
import { startupBenchmark } from "./startup.js";
import { uiBenchmark } from "./ui.js";
import { watchBenchmark } from "./watch.js";
import { webhookBenchmark } from "./webhook.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    only: { type: "string" },
    runs: { type: "string", default: "5" },
    "scale-seconds": { type: "string", default: "300" },
    targets: { type: "string", default: "500" },
    "replica-targets": { type: "string", default: "1000" },
    "replica-seconds": { type: "string", default: "120" },
    "pause-seconds": { type: "string", default: "20" },
    "watch-idle-seconds": { type: "string", default: "60" },
    "watch-idle-targets": { type: "string", default: "50" },
    "watch-quiet-seconds": { type: "string", default: "60" },
  },
});
const runs = Number(values.runs);
const only = values.only?.split(",");
const want = (id: string) => !only || only.includes(id);

process.env.DRIFTLESS_LOG_LEVEL ??= "silent";
const figures: Figure[] = [];
const started = Date.now();
if (want("engine")) figures.push(...(await engineBenchmarks(runs)));
if (want("noop")) figures.push(...(await noopBenchmarks()));
if (want("webhook")) figures.push(...(await webhookBenchmark(runs)));
if (want("scale"))
  figures.push(...(await scaleBenchmark(Number(values.targets), Number(values["scale-seconds"]))));
if (want("components")) figures.push(...(await componentBenchmark()));
if (want("startup")) figures.push(...(await startupBenchmark(runs)));
if (want("kubernetes")) figures.push(...(await kubernetesBenchmark(runs)));
if (want("watch"))
  figures.push(
    ...(await watchBenchmark(
      runs,
      Number(values["watch-idle-seconds"]),
      Number(values["watch-idle-targets"]),
      Number(values["watch-quiet-seconds"]),
    )),
  );
if (want("ui")) figures.push(...(await uiBenchmark(1000, runs)));
if (want("masking")) figures.push(...(await maskingBenchmark(runs)));
if (want("inventory")) figures.push(...(await inventoryBenchmark(2000, runs)));
if (want("replicas"))
  figures.push(
    ...(await replicasBenchmark(Number(values["replica-targets"]), Number(values["replica-seconds"]), runs)),
  );
if (want("host"))
  figures.push(
    ...(await hostResponsivenessBenchmark(
      Number(values["replica-targets"]),
      Number(values["pause-seconds"]),
    )),
  );

const pulumiVersion = (await promisify(execFile)("pulumi", ["version"])).stdout.trim();
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  pulumi: pulumiVersion,
  date: new Date().toISOString(),
  durationS: Math.round((Date.now() - started) / 1000),
};
const dir = join(root, "bench", "results");
mkdirSync(dir, { recursive: true });
// A partial run (--only) replaces its own figures and keeps the others.
if (only && existsSync(join(dir, "latest.json"))) {
  const previous = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as { figures: Figure[] };
  const fresh = new Set(figures.map((f) => f.id));
  figures.unshift(...previous.figures.filter((f) => !fresh.has(f.id)));
}
writeFileSync(join(dir, "latest.json"), `${JSON.stringify({ machine, figures }, null, 2)}\n`);
writeFileSync(join(dir, "latest.md"), markdown(machine, figures));
progress(`wrote bench/results/latest.json and latest.md in ${machine.durationS}s`);
process.stdout.write(markdown(machine, figures));

function fmt(n: number | undefined, unit: string): string {
  if (n === undefined) return "";
  const digits = unit === "ms" && n < 100 ? 1 : unit === "ms" ? 0 : 2;
  return `${n.toFixed(digits)} ${unit}`;
}

function markdown(m: typeof machine, list: readonly Figure[]): string {
  const lines = [
    "# Benchmark results",
    "",
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, Pulumi ${m.pulumi}; ${m.date}.`,
    "Each figure: median (min–max) of the runs; baselines ran interleaved with ours (A B A B …).",
    "",
    "| figure | ours | baseline | ratio | goal | met | notes |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const f of list) {
    const ours = `${fmt(f.value.median, f.unit)} (${fmt(f.value.min, f.unit)}–${fmt(f.value.max, f.unit)}, n=${f.value.samples.length})`;
    const base = f.baseline
      ? `${fmt(f.baseline.median, f.unit)} (${fmt(f.baseline.min, f.unit)}–${fmt(f.baseline.max, f.unit)})`
      : "";
    const ratio = f.ratio === undefined ? "" : f.ratio.toFixed(2);
    const met = f.met === undefined ? "" : f.met ? "yes" : "**no**";
    lines.push(`| ${f.name} | ${ours} | ${base} | ${ratio} | ${f.goal ?? ""} | ${met} | ${f.notes ?? ""} |`);
  }
  return `${lines.join("\n")}\n`;
}
