// Reconcile overhead, drift-check cost and the no-op check, against bare
// Pulumi run on the same checkout and backend.
import { join } from "node:path";
import { PulumiEngine, Reconciler, type TargetSpec } from "@driftless/gitops";
import { startGitHttp } from "../test/support/gitHttp.js";
import {
  type Figure,
  interleaved,
  pages,
  progress,
  pulumi,
  siteBench,
  stats,
  time,
  writeSite,
} from "./lib.js";

const RESOURCES = 20;

export async function engineBenchmarks(runs: number): Promise<Figure[]> {
  const bench = siteBench(RESOURCES);
  const engine = new PulumiEngine();
  const spec: TargetSpec = {
    name: "bench",
    repo: bench.repo.fileUrl,
    stack: "driftless",
    passphrase: "bench",
    config: { outDir: join(bench.outDir, "driftless") },
    env: bench.env,
    // Like for like with `pulumi up --yes`, which does not refresh.
    refresh: false,
    interval: "1h",
    resync: "1h",
  };
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    engine,
    installDependencies: false,
    targets: [spec],
  });
  const figures: Figure[] = [];
  try {
    progress("setting up the bare-Pulumi baseline stack");
    await pulumi(bench, "stack", "init", "bare");
    await pulumi(bench, "config", "set", "outDir", join(bench.outDir, "bare"));
    await pulumi(bench, "up", "--yes");
    await reconciler.reconcile("bench");

    // 1. A changed revision, end to end, versus `pulumi up --yes` by hand.
    progress(
      `reconcile overhead: ${runs} × (pulumi up --yes, changed-revision reconcile), ${RESOURCES} resources`,
    );
    const overhead = await interleaved(
      runs,
      async (i) => {
        writeSite(bench, RESOURCES, i + 1);
        return time(() => pulumi(bench, "up", "--yes"));
      },
      async (i) => {
        bench.repo.commit({ "site.json": pages(RESOURCES, i + 1) }, `version ${i + 1}`);
        return time(async () => {
          const run = await reconciler.reconcile("bench", { trigger: "webhook", force: false });
          if (run.result !== "applied") throw new Error(`expected applied, got ${run.result}: ${run.error}`);
        });
      },
    );
    figures.push({
      id: "reconcile-overhead",
      name: `Changed-revision reconcile vs \`pulumi up --yes\` (${RESOURCES} dynamic resources)`,
      unit: "ms",
      value: overhead.b,
      baseline: overhead.a,
      ratio: overhead.b.median / overhead.a.median,
      goal: "ratio ≤ 1.10",
      met: overhead.b.median / overhead.a.median <= 1.1,
      notes:
        "resolve + fetch + checkout + preview (gates) + up; the baseline previews and updates in one process",
    });

    // 3. A drift check that finds nothing, versus `pulumi preview --refresh`.
    progress(`drift check: ${runs} × (pulumi preview --refresh, forced reconcile with refresh)`);
    reconciler.addTarget({ ...spec, refresh: true });
    const drift = await interleaved(
      runs,
      () => time(() => pulumi(bench, "preview", "--refresh")),
      () =>
        time(async () => {
          const run = await reconciler.reconcile("bench", { trigger: "manual" });
          if (run.result !== "unchanged")
            throw new Error(`expected unchanged, got ${run.result}: ${run.error}`);
        }),
    );
    figures.push({
      id: "drift-check",
      name: "Drift check finding nothing vs `pulumi preview --refresh`",
      unit: "ms",
      value: drift.b,
      baseline: drift.a,
      ratio: drift.b.median / drift.a.median,
    });

    // 2. No-op checks: unchanged revision, no resync due. A pushed or manual
    // request always asks the remote; scheduled checks of targets on the same
    // repository and ref share one answer for a few seconds.
    const checks = 100;
    progress(`no-op check: ${checks} fresh and ${checks} scheduled decisions against a local remote`);
    const before = engine.invocations;
    const fresh: number[] = [];
    const scheduled: number[] = [];
    for (let i = 0; i < checks; i++) {
      fresh.push(await time(() => reconciler.reconcile("bench", { trigger: "webhook", force: false })));
      scheduled.push(await time(() => reconciler.reconcile("bench", { trigger: "interval", force: false })));
    }
    const started = engine.invocations - before;
    figures.push({
      id: "noop-local",
      name: "No-op check, local (file://) remote, fresh ls-remote: time to decision",
      unit: "ms",
      value: stats(fresh),
      goal: "≤ 25 ms per target, no engine process",
      met: stats(fresh).median <= 25 && started === 0,
      notes: `engine operations started during ${checks * 2} checks: ${started}`,
    });
    figures.push({
      id: "noop-local-shared",
      name: "No-op check, scheduled (ls-remote answer shared for up to 5 s): time to decision",
      unit: "ms",
      value: stats(scheduled),
    });

    const http = await startGitHttp(join(bench.sandbox.dir, "repo"));
    try {
      reconciler.addTarget({
        ...spec,
        name: "bench-http",
        repo: `${http.url}/remote.git`,
        stack: "driftless-http",
        config: { outDir: join(bench.outDir, "http") },
      });
      await reconciler.reconcile("bench-http");
      const remote: number[] = [];
      const requests: number[] = [];
      for (let i = 0; i < 50; i++) {
        const sent = http.requests.length;
        remote.push(
          await time(async () => {
            const run = await reconciler.reconcile("bench-http", { trigger: "webhook", force: false });
            if (run.result !== "skipped")
              throw new Error(`expected a skipped check, got ${run.result}: ${run.error}`);
          }),
        );
        requests.push(http.requests.length - sent);
      }
      figures.push({
        id: "noop-http",
        name: "No-op check, smart-HTTP remote on 127.0.0.1, fresh ls-remote: time to decision",
        unit: "ms",
        value: stats(remote),
        goal: "exactly one network round trip",
        met: requests.every((n) => n === 1),
        notes: `HTTP requests per check: ${[...new Set(requests)].join(", ")}`,
      });
    } finally {
      await http.close();
    }
  } finally {
    await reconciler.stop({ graceMs: 1000 });
    bench.dispose();
  }
  return figures;
}
