// The no-op check: a request for a target whose revision did not change, from
// the request to the decision to skip (no engine process). Ours reads the
// remote's refs without a git process; the baseline is the same reconciler
// asking `git ls-remote`, run alternately in the same process.
//
// Three remotes: a local (file://) one; smart HTTP on a real Git host (Gitea,
// which answers `info/refs` itself with one `git upload-pack` per request),
// the goal's remote; and smart HTTP from `git http-backend` run as CGI by a
// test server, for reference, where the server alone takes most of the time.
import { join } from "node:path";
import { GitSource, PulumiEngine, Reconciler, type TargetSpec } from "@driftless/gitops";
import { git } from "../test/support/git.js";
import { startGitea } from "../test/support/gitea.js";
import { startGitHttp } from "../test/support/gitHttp.js";
import { type Figure, interleaved, progress, type Stats, siteBench, stats, time } from "./lib.js";

interface Remote {
  readonly name: string;
  readonly where: string;
  /** The goal in ms, or none for a reference figure. */
  readonly goal?: number;
  /** The repository's URL when it is served over HTTP: the server's own time is measured too. */
  readonly http?: string;
  readonly server?: string;
  /** Requests the server saw, when it counts them. */
  readonly requests?: () => number;
}

export async function noopBenchmarks(): Promise<Figure[]> {
  const bench = siteBench(2);
  const engine = new PulumiEngine();
  progress("no-op check: starting Gitea and a git http-backend server on 127.0.0.1");
  const cgi = await startGitHttp(join(bench.sandbox.dir, "repo"));
  const gitea = await startGitea(join(bench.sandbox.dir, "gitea"));
  git(bench.repo.bare, "push", "--quiet", gitea.pushUrl, "main");
  const remotes: Remote[] = [
    { name: "local", where: "local (file://) remote", goal: 5 },
    {
      name: "http",
      where: "smart-HTTP remote on 127.0.0.1 (Gitea)",
      goal: 10,
      http: gitea.cloneUrl,
      server: "Gitea",
    },
    {
      name: "http-cgi",
      where: "smart-HTTP remote on 127.0.0.1 (git http-backend as CGI)",
      http: `${cgi.url}/remote.git`,
      server: "git http-backend as CGI",
      requests: () => cgi.requests.length,
    },
  ];
  const spec = (remote: Remote): TargetSpec => ({
    name: remote.name,
    repo: remote.http ?? bench.repo.fileUrl,
    stack: remote.name,
    passphrase: "bench",
    config: { outDir: join(bench.outDir, remote.name) },
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
      targets: remotes.map(spec),
    });
  const ours = await open("direct", true);
  const baseline = await open("git", false);
  const figures: Figure[] = [];
  try {
    progress("no-op check: first apply of each target (twice: ours and the baseline)");
    for (const reconciler of [ours, baseline])
      for (const remote of remotes) await reconciler.reconcile(remote.name);
    const before = engine.invocations;
    for (const remote of remotes) {
      const checks = 100;
      progress(`no-op check, ${remote.where}: ${checks} × (git ls-remote, direct ref read) decisions`);
      const requests: number[] = [];
      const decide = (reconciler: Reconciler) => async () => {
        const sent = remote.requests?.();
        const ms = await time(async () => {
          const run = await reconciler.reconcile(remote.name, { trigger: "webhook", force: false });
          if (run.result !== "skipped")
            throw new Error(`expected a skipped check, got ${run.result}: ${run.error}`);
        });
        if (reconciler === ours && sent !== undefined) requests.push((remote.requests?.() ?? 0) - sent);
        return ms;
      };
      const result = await interleaved(checks, decide(baseline), decide(ours));
      // What the server alone takes to answer: the floor any client pays over this remote.
      const floor = remote.http ? await serverFloor(remote.http, checks) : undefined;
      const notes = [`engine operations started: ${engine.invocations - before}`];
      if (requests.length)
        notes.push(`HTTP requests per check (counted by this server): ${[...new Set(requests)].join(", ")}`);
      if (floor)
        notes.push(
          `the server alone answers info/refs in ${floor.median.toFixed(1)} ms (median, ${remote.server})`,
        );
      if (remote.goal === undefined) notes.push("for reference: no goal over this server");
      figures.push({
        id: `noop-${remote.name}`,
        name: `No-op check, ${remote.where}, fresh ref lookup: time to decision, vs the same via \`git ls-remote\``,
        unit: "ms",
        value: result.b,
        baseline: result.a,
        ratio: result.b.median / result.a.median,
        ...(remote.goal === undefined
          ? {}
          : {
              goal: `≤ ${remote.goal} ms per target, no engine process`,
              met: result.b.median <= remote.goal && engine.invocations === before,
            }),
        notes: notes.join("; "),
      });
    }
  } finally {
    await ours.stop({ graceMs: 1000 });
    await baseline.stop({ graceMs: 1000 });
    await gitea.stop();
    await cgi.close();
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
