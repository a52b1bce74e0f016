// Reconcile overhead and drift-check cost, against bare Pulumi run on the
// same checkout and backend, and where a reconcile's time goes. The no-op
// check is in noop.ts.
import { join } from "node:path";
import {
  type ApplyResult,
  type EngineOperationOptions,
  type Plan,
  PulumiEngine,
  Reconciler,
  type StackRequest,
  type TargetSpec,
} from "@driftless/gitops";
import {
  type Figure,
  interleaved,
  pages,
  progress,
  pulumi,
  rounds,
  run,
  type Stats,
  siteBench,
  stats,
  time,
  writeSite,
} from "./lib.js";

const RESOURCES = 20;

/** When one engine operation started, first and last reported a resource, and returned. */
interface Phases {
  readonly op: string;
  readonly start: number;
  first?: number;
  last?: number;
  end?: number;
}

/** The real engine, noting the phases of every operation of the run being timed. */
class TimedEngine extends PulumiEngine {
  phases: Phases[] = [];

  async #timed<T>(
    op: string,
    options: EngineOperationOptions | undefined,
    operation: (options: EngineOperationOptions) => Promise<T>,
  ): Promise<T> {
    const phases: Phases = { op, start: performance.now() };
    this.phases.push(phases);
    try {
      return await operation({
        ...options,
        onProgress: (event) => {
          if (event.kind === "resource") {
            phases.first ??= performance.now();
            phases.last = performance.now();
          }
          options?.onProgress?.(event);
        },
      });
    } finally {
      phases.end = performance.now();
    }
  }

  override refresh(request: StackRequest, options?: EngineOperationOptions) {
    return this.#timed("refresh", options, (o) => super.refresh(request, o));
  }
  override preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    return this.#timed("preview", options, (o) => super.preview(request, o));
  }
  override up(request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult> {
    return this.#timed("up", options, (o) => super.up(request, o));
  }
}

export async function engineBenchmarks(runs: number): Promise<Figure[]> {
  const bench = siteBench(RESOURCES);
  const engine = new TimedEngine();
  const base = {
    repo: bench.repo.fileUrl,
    passphrase: "bench",
    env: bench.env,
    interval: "1h",
    resync: "1h",
  } as const;
  // Like for like: `pulumi up --yes` does not refresh, `pulumi up --yes --refresh` does.
  const plain: TargetSpec = {
    ...base,
    name: "plain",
    stack: "plain",
    config: { outDir: join(bench.outDir, "plain") },
    refresh: false,
  };
  const refreshing: TargetSpec = {
    ...base,
    name: "refreshing",
    stack: "refreshing",
    config: { outDir: join(bench.outDir, "refreshing") },
    refresh: true,
  };
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    engine,
    installDependencies: false,
    targets: [plain, refreshing],
  });
  const figures: Figure[] = [];
  let version = 0;
  const applyChanged = (name: string) => {
    bench.repo.commit({ "site.json": pages(RESOURCES, ++version) }, `version ${version}`);
    return time(async () => {
      const result = await reconciler.reconcile(name, { trigger: "webhook", force: false });
      if (result.result !== "applied")
        throw new Error(`expected applied, got ${result.result}: ${result.error}`);
    });
  };
  const breakdown: Record<string, number[]> = {};
  const note = (phase: string, ms: number) => {
    breakdown[phase] ??= [];
    breakdown[phase].push(ms);
  };
  try {
    progress("setting up the bare-Pulumi baseline stack");
    await pulumi(bench, "stack", "init", "bare");
    await pulumi(bench, "config", "set", "outDir", join(bench.outDir, "bare"));
    await pulumi(bench, "up", "--yes");
    await reconciler.reconcile("plain");
    await reconciler.reconcile("refreshing");

    // 1. A changed revision, end to end, versus `pulumi up --yes` and
    //    `pulumi up --yes --refresh` by hand, all four in every round.
    progress(
      `reconcile overhead: ${runs} × (pulumi up --yes, reconcile without refresh, pulumi up --yes --refresh, reconcile with refresh), ${RESOURCES} resources`,
    );
    const [upBare, ours, upRefreshBare, oursRefresh] = (await rounds(runs, [
      () => {
        writeSite(bench, RESOURCES, ++version);
        return time(() => pulumi(bench, "up", "--yes"));
      },
      () => applyChanged("plain"),
      () => {
        writeSite(bench, RESOURCES, ++version);
        return time(() => pulumi(bench, "up", "--yes", "--refresh"));
      },
      async () => {
        engine.phases = [];
        const total = await applyChanged("refreshing");
        const inEngine = engine.phases.reduce((sum, p) => sum + ((p.end ?? p.start) - p.start), 0);
        note("outside the engine (git resolve, fetch, checkout, store, steps)", total - inEngine);
        for (const p of engine.phases) {
          const first = p.first ?? p.end ?? p.start;
          const last = p.last ?? first;
          note(`${p.op}: start → first resource event`, first - p.start);
          note(`${p.op}: first → last resource event`, last - first);
          note(`${p.op}: last resource event → done`, (p.end ?? last) - last);
        }
        note("pulumi version (CLI start alone)", await time(() => run("pulumi", ["version"])));
        note(
          "pulumi stack output (CLI start + backend + state decrypt)",
          await time(() => pulumi(bench, "stack", "output", "--json")),
        );
        return total;
      },
    ])) as [Stats, Stats, Stats, Stats];
    figures.push(
      {
        id: "reconcile-overhead",
        name: `Changed-revision reconcile, refresh off, vs \`pulumi up --yes\` (${RESOURCES} dynamic resources)`,
        unit: "ms",
        value: ours,
        baseline: upBare,
        ratio: ours.median / upBare.median,
        goal: "ratio ≤ 1.10",
        met: ours.median / upBare.median <= 1.1,
        notes:
          "resolve + fetch + checkout + preview (gates) + state digest check + up held to the preview's steps; the baseline previews and updates in one process",
      },
      {
        id: "reconcile-refresh-overhead",
        name: `Changed-revision reconcile, refresh on, vs \`pulumi up --yes --refresh\` (${RESOURCES} dynamic resources)`,
        unit: "ms",
        value: oursRefresh,
        baseline: upRefreshBare,
        ratio: oursRefresh.median / upRefreshBare.median,
        goal: "ratio ≤ 1.10 (stretch 1.05)",
        met: oursRefresh.median / upRefreshBare.median <= 1.1,
        notes:
          "refresh once (kept) + preview (gates) + state digest check + up without refresh, held to the preview's steps; the baseline refreshes twice (its preview and its update) in one process",
      },
      {
        id: "reconcile-refresh-vs-up",
        name: `Changed-revision reconcile, refresh on, vs \`pulumi up --yes\` (no refresh; same rounds as above)`,
        unit: "ms",
        value: oursRefresh,
        baseline: upBare,
        ratio: oursRefresh.median / upBare.median,
        notes:
          "what refreshing costs over a plain up: the reconcile's one refresh is a separate engine process",
      },
    );
    for (const [phase, samples] of Object.entries(breakdown)) {
      const value = stats(samples);
      figures.push({
        id: `reconcile-breakdown-${phase
          .replace(/[^a-z]+/gi, "-")
          .replace(/-+$/, "")
          .toLowerCase()}`,
        name: `Breakdown of a refreshing changed-revision reconcile: ${phase}`,
        unit: "ms",
        value,
        ratio: value.median / oursRefresh.median,
        notes: "ratio: share of the reconcile's median",
      });
    }

    // 3. A drift check that finds nothing, versus `pulumi preview --refresh`.
    progress(`drift check: ${runs} × (pulumi preview --refresh, forced reconcile with refresh)`);
    const drift = await interleaved(
      runs,
      () => time(() => pulumi(bench, "preview", "--refresh")),
      () =>
        time(async () => {
          const result = await reconciler.reconcile("refreshing", { trigger: "manual" });
          if (result.result !== "unchanged")
            throw new Error(`expected unchanged, got ${result.result}: ${result.error}`);
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
