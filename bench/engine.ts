// Reconcile overhead and drift-check cost, against bare Pulumi run on the
// same checkout and backend. The no-op check is in noop.ts.
import { join } from "node:path";
import { PulumiEngine, Reconciler, type TargetSpec } from "@driftless/gitops";
import { type Figure, interleaved, pages, progress, pulumi, siteBench, time, writeSite } from "./lib.js";

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
  } finally {
    await reconciler.stop({ graceMs: 1000 });
    bench.dispose();
  }
  return figures;
}
