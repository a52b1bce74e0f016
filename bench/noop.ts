// The no-op check: a request for a target whose revision did not change, from
// the request to the decision to skip (no engine process). Ours reads the
// remote's refs without a git process; the baseline is the same reconciler
// asking `git ls-remote`, run alternately in the same process.
import { join } from "node:path";
import { GitSource, PulumiEngine, Reconciler, type TargetSpec } from "@driftless/gitops";
import { startGitHttp } from "../test/support/gitHttp.js";
import { type Figure, interleaved, progress, type Stats, siteBench, stats, time } from "./lib.js";

export async function noopBenchmarks(): Promise<Figure[]> {
  const bench = siteBench(2);
  const engine = new PulumiEngine();
  const http = await startGitHttp(join(bench.sandbox.dir, "repo"));
  const spec = (name: string, repo: string): TargetSpec => ({
    name,
    repo,
    stack: name,
    passphrase: "bench",
    config: { outDir: join(bench.outDir, name) },
    env: bench.env,
    refresh: false,
    interval: "1h",
    resync: "1h",
  });
  const open = (dir: string, directRefs: boolean) =>
    Reconciler.create({
      dataDir: join(bench.dataDir, dir),
      engine,
      source: new GitSource({ dataDir: join(bench.dataDir, dir), directRefs }),
      installDependencies: false,
      targets: [spec("local", bench.repo.fileUrl), spec("http", `${http.url}/remote.git`)],
    });
  const ours = await open("direct", true);
  const baseline = await open("git", false);
  const figures: Figure[] = [];
  try {
    progress("no-op check: first apply of the local and smart-HTTP targets (twice: ours and the baseline)");
    for (const reconciler of [ours, baseline])
      for (const name of ["local", "http"]) await reconciler.reconcile(name);
    const before = engine.invocations;
    for (const [name, where, goal] of [
      ["local", "local (file://) remote", 5],
      ["http", "smart-HTTP remote on 127.0.0.1", 10],
    ] as const) {
      const checks = 100;
      progress(`no-op check, ${where}: ${checks} × (git ls-remote, direct ref read) decisions`);
      const requests: number[] = [];
      const decide = (reconciler: Reconciler) => async () => {
        const sent = http.requests.length;
        const ms = await time(async () => {
          const run = await reconciler.reconcile(name, { trigger: "webhook", force: false });
          if (run.result !== "skipped")
            throw new Error(`expected a skipped check, got ${run.result}: ${run.error}`);
        });
        if (reconciler === ours) requests.push(http.requests.length - sent);
        return ms;
      };
      const result = await interleaved(checks, decide(baseline), decide(ours));
      // What the server alone takes to answer (git http-backend runs as a CGI
      // process per request): the floor any client pays over this remote.
      const floor = name === "http" ? await serverFloor(`${http.url}/remote.git`, checks) : undefined;
      figures.push({
        id: `noop-${name}`,
        name: `No-op check, ${where}, fresh ref lookup: time to decision, vs the same via \`git ls-remote\``,
        unit: "ms",
        value: result.b,
        baseline: result.a,
        ratio: result.b.median / result.a.median,
        goal: `≤ ${goal} ms per target, no engine process${name === "http" ? ", one HTTP request" : ""}`,
        met:
          result.b.median <= goal &&
          engine.invocations === before &&
          (name === "local" || requests.every((n) => n === 1)),
        notes:
          `engine operations started: ${engine.invocations - before}` +
          (floor
            ? `; HTTP requests per check: ${[...new Set(requests)].join(", ")}; the server alone answers info/refs in ${floor.median.toFixed(1)} ms (median, git http-backend as CGI)`
            : ""),
      });
    }
  } finally {
    await ours.stop({ graceMs: 1000 });
    await baseline.stop({ graceMs: 1000 });
    await http.close();
    bench.dispose();
  }
  return figures;
}

async function serverFloor(repo: string, samples: number): Promise<Stats> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++)
    times.push(
      await time(async () => {
        const response = await fetch(`${repo}/info/refs?service=git-upload-pack`);
        await response.arrayBuffer();
      }),
    );
  return stats(times);
}
