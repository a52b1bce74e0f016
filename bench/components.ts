// Declaring 1,000 WebService components under Pulumi's mocks (packages/core/bench).
import { fileURLToPath } from "node:url";
import { type Figure, progress, run, stats } from "./lib.js";

const script = fileURLToPath(new URL("../packages/core/bench/webservice.bench.mjs", import.meta.url));

export async function componentBenchmark(): Promise<Figure[]> {
  progress("component declaration: 1,000 WebService under mocks");
  const { stdout } = await run(process.execPath, [script], { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    components: number;
    samplesMs?: number[];
    medianMs: number;
    minMs: number;
    maxMs: number;
  };
  const samples = result.samplesMs ?? [result.minMs, result.medianMs, result.maxMs];
  const value = { ...stats(samples), median: result.medianMs, min: result.minMs, max: result.maxMs };
  return [
    {
      id: "component-declaration",
      name: `Declare ${result.components} WebService under mocks`,
      unit: "ms",
      value,
      goal: "1,000 in under 2 s",
      met: result.medianMs < 2000,
      notes: `${(result.medianMs / result.components).toFixed(2)} ms per component (4 resources each)`,
    },
  ];
}
