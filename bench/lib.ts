// Shared pieces of the benchmarks: statistics, interleaved A/B runs, and a
// site program with N dynamic resources in a Git repository.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type EngineSandbox, engineSandbox } from "../test/support/engine.js";
import { createRepo, git, type TestRepo } from "../test/support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "../test/support/sitePrograms.js";

export const run = promisify(execFile);

/** Median, min and max of a sample. */
export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number, samples };
}

/** One reported figure; `baseline` and `ratio` when it is compared with a baseline run side by side. */
export interface Figure {
  readonly id: string;
  readonly name: string;
  readonly unit: string;
  readonly value: Stats;
  readonly baseline?: Stats;
  /** median(value) / median(baseline) */
  readonly ratio?: number;
  /** The goal, in words, and whether the median met it. */
  readonly goal?: string;
  readonly met?: boolean;
  readonly notes?: string;
}

export async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Runs A and B alternately (A B A B …) so drift in the machine's load hits both alike. */
export async function interleaved(
  runs: number,
  a: (i: number) => Promise<number>,
  b: (i: number) => Promise<number>,
): Promise<{ a: Stats; b: Stats }> {
  const [as, bs] = await rounds(runs, [a, b]);
  return { a: as as Stats, b: bs as Stats };
}

/** Runs each contender once per round (A B C A B C …), for as many rounds as asked. */
export async function rounds(
  runs: number,
  contenders: readonly ((i: number) => Promise<number>)[],
): Promise<Stats[]> {
  const samples = contenders.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, contender] of contenders.entries()) samples[k]?.push(await contender(i));
  }
  return samples.map((s) => stats(s));
}

export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** site.json content with `count` pages at version `version`. */
export function pages(count: number, version: number): string {
  const entries = Array.from({ length: count }, (_, i) => [
    `page-${i}.html`,
    `<p>page ${i}, version ${version}</p>`,
  ]);
  return `${JSON.stringify(Object.fromEntries(entries), null, 1)}\n`;
}

/** A sandbox with a Git repository holding the site program with `count` resources. */
export interface SiteBench {
  readonly sandbox: EngineSandbox;
  readonly repo: TestRepo;
  readonly outDir: string;
  readonly env: Record<string, string>;
  readonly dataDir: string;
  /** A plain clone of the repository, for the bare-Pulumi baseline. */
  readonly bareDir: string;
  dispose(): void;
}

export function siteBench(count: number): SiteBench {
  const sandbox = engineSandbox("driftless-bench-");
  const repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
  repo.commit({ "site.json": pages(count, 0) }, `site with ${count} pages`);
  const bareDir = join(sandbox.dir, "bare");
  git(sandbox.dir, "clone", "--quiet", repo.bare, bareDir);
  const outDir = join(sandbox.dir, "out");
  mkdirSync(outDir, { recursive: true });
  mkdirSync(join(sandbox.dir, "data", "state"), { recursive: true });
  return {
    sandbox,
    repo,
    outDir,
    dataDir: join(sandbox.dir, "data"),
    bareDir,
    env: {
      ...sandbox.env,
      NODE_PATH: TEST_NODE_PATH,
      PULUMI_CONFIG_PASSPHRASE: "bench",
      PULUMI_BACKEND_URL: `file://${join(sandbox.dir, "data", "state")}`,
    },
    dispose: () => sandbox.dispose(),
  };
}

/** `pulumi <args>` in the bare checkout, as a person would type it. */
export async function pulumi(bench: SiteBench, ...args: string[]): Promise<void> {
  await run("pulumi", [...args, "--non-interactive"], {
    cwd: bench.bareDir,
    env: { ...process.env, ...bench.env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

export function writeSite(bench: SiteBench, count: number, version: number): void {
  writeFileSync(join(bench.bareDir, "site.json"), pages(count, version));
}
