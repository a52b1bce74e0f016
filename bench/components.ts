// Declaring 1,000 WebService components against declaring the same raw
// @pulumi/kubernetes resources directly, under the same mocks, in alternating
// rounds of one process (packages/core/bench).
import { fileURLToPath } from "node:url";
import { type Figure, progress, run, type Stats, stats } from "./lib.js";

const script = fileURLToPath(new URL("../packages/core/bench/webservice.bench.mjs", import.meta.url));

interface Timings {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

function timings(t: Timings): Stats {
  return { ...stats(t.samplesMs), median: t.medianMs, min: t.minMs, max: t.maxMs };
}

export async function componentBenchmark(): Promise<Figure[]> {
  progress("component declaration: 1,000 WebService vs the same raw resources, under mocks");
  const { stdout } = await run(process.execPath, [script], { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as Timings & {
    components: number;
    rawResources: number;
    raw: Timings;
    pairedRatios: number[];
  };
  const value = timings(result);
  const baseline = timings(result.raw);
  // Each round's pair ran back to back: the median of their ratios cancels
  // the machine's load drifting between rounds better than a ratio of medians.
  const ratio = stats(result.pairedRatios).median;
  return [
    {
      id: "component-declaration",
      name: `Declare ${result.components} WebService vs the same ${result.rawResources} raw @pulumi/kubernetes resources, under mocks`,
      unit: "ms",
      value,
      baseline,
      ratio,
      goal: "ratio ≤ 1.3",
      met: ratio <= 1.3,
      notes: `ratio: median of ${result.pairedRatios.length} per-round ratios (${result.pairedRatios.join(", ")}); ${(value.median / result.components).toFixed(2)} ms per component; Pulumi's own cost of a raw resource ${(baseline.median / result.rawResources).toFixed(2)} ms`,
    },
  ];
}
