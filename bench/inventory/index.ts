// A target that manages 2,000 resources: its inventory read from the stack's
// checkpoint and stored after a run (SQLite and PostgreSQL), against the state
// digest read every run already does; and the target's page and resource API
// served through createHandler, against the same for a target with no inventory.
import { createServer, type Server } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  buildInventory,
  createHandler,
  type DriftedResource,
  type PlannedStep,
  PostgresStore,
  PulumiEngine,
  Reconciler,
  SqliteStore,
  type StackRequest,
  type TargetInventory,
  type TargetStatus,
} from "@driftless/gitops";
import { engineSandbox } from "../../test/support/engine.js";
import { createRepo } from "../../test/support/git.js";
import { startPostgres } from "../../test/support/postgres.js";
import { type Figure, progress, rounds, type Stats, stats, time } from "../lib.js";
import { writeCheckpoint } from "./checkpoint.js";

// Each sample starts with the heap collected, so one contender's garbage is not
// collected on the next one's time (each allocates some 100 MB parsing the checkpoint).
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
const settled = (fn: () => Promise<unknown>) => {
  collect();
  return time(fn);
};

type Phase = "checkpoint" | "previous" | "build" | "store" | "cpu";
const phaseLists = (): Record<Phase, number[]> => ({
  checkpoint: [],
  previous: [],
  build: [],
  store: [],
  cpu: [],
});

type InventoryStores = Pick<SqliteStore, "getInventory" | "putInventory">;

/** What a run that reached the engine does for the inventory (run.ts's recordInventory), timed by phase. */
async function recordInventory(
  engine: PulumiEngine,
  request: StackRequest,
  store: InventoryStores,
  target: string,
  run: number,
  phases: Record<Phase, number[]>,
): Promise<TargetInventory> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const resources = await engine.resources(request);
  const tRead = performance.now();
  const previous = await store.getInventory(target);
  const t1 = performance.now();
  // A run that applied an update of 30 objects and left 1 % of the stack drifted (detect-only paths).
  const kubernetes = resources.filter((r) => r.type.startsWith("kubernetes:"));
  const steps: PlannedStep[] = kubernetes
    .filter((_, i) => i % 50 === run % 50)
    .slice(0, 30)
    .map((r) => ({ op: "update", urn: r.urn, type: r.type, keys: ["spec"] }));
  const drift: DriftedResource[] = kubernetes
    .filter((_, i) => i % 100 === 17)
    .map((r) => ({ urn: r.urn, type: r.type, paths: ["spec.template.spec.containers[0].image"] }));
  const inventory = buildInventory({
    target,
    runId: `run-${run}`,
    revision: "4f".repeat(20),
    at: new Date().toISOString(),
    result: "applied",
    resources,
    ...(previous ? { previous } : {}),
    steps,
    drift,
    errors: new Map(),
  });
  const t2 = performance.now();
  await store.putInventory(inventory);
  const t3 = performance.now();
  phases.checkpoint.push(tRead - t0);
  phases.previous.push(t1 - tRead);
  phases.build.push(t2 - t1);
  phases.store.push(t3 - t2);
  const used = process.cpuUsage(cpu);
  phases.cpu.push((used.user + used.system) / 1000);
  return inventory;
}

const ms = (s: Stats) => `${s.median.toFixed(1)} ms`;

export async function inventoryBenchmark(count: number, runs: number): Promise<Figure[]> {
  const samples = Math.max(runs, 7);
  const sandbox = engineSandbox("driftless-bench-inventory-");
  const pg = await startPostgres();
  let server: Server | undefined;
  let reconciler: Reconciler | undefined;
  const stores: { close(): Promise<void> }[] = [];
  try {
    const backendDir = join(sandbox.dir, "state");
    const workDir = join(sandbox.dir, "work");
    const bytes = writeCheckpoint(backendDir, workDir, count);
    const request: StackRequest = {
      workDir,
      stack: "prod",
      backend: `file://${backendDir}`,
      secretsProvider: "passphrase",
      env: {},
      config: {},
      secretConfig: {},
    };
    const engine = new PulumiEngine();
    const sqlite = new SqliteStore(join(sandbox.dir, "driftless.db"));
    stores.push(sqlite);
    const postgres = await PostgresStore.open(await pg.createDatabase("inventory"));
    stores.push(postgres);
    progress(
      `inventory: ${count} resources (checkpoint ${(bytes / 2 ** 20).toFixed(1)} MiB), ${samples} runs`,
    );

    // (a) Read and stored, as after every run; a previous inventory is stored (steady state).
    const phases = { sqlite: phaseLists(), postgres: phaseLists() };
    const warm = phaseLists();
    let inventory = await recordInventory(engine, request, sqlite, "big", -1, warm);
    await recordInventory(engine, request, postgres, "big", -1, warm);
    const [sqliteMs, postgresMs, digestMs] = await rounds(samples, [
      (i) => settled(() => recordInventory(engine, request, sqlite, "big", i, phases.sqlite)),
      (i) => settled(() => recordInventory(engine, request, postgres, "big", i, phases.postgres)),
      () => settled(() => engine.stateVersion(request)),
    ]);
    const loadRecord = loadavg()[0] ?? 0;
    inventory = (await sqlite.getInventory("big")) ?? inventory;
    const documentKiB = Buffer.byteLength(JSON.stringify(inventory)) / 1024;
    // A detect-only preview that would add as many resources again (a new environment in the same stack).
    const resources = await engine.resources(request);
    const parents = resources.filter((r) => r.type === "driftless:k8s:WebService");
    const creates: PlannedStep[] = Array.from({ length: count }, (_, i) => {
      const parent = parents[i % parents.length]?.urn ?? "";
      const chain = `${parent.split("::")[2]}$kubernetes:core/v1:ConfigMap`;
      return {
        op: "create",
        urn: `${parent.split("::").slice(0, 2).join("::")}::${chain}::extra-${i}`,
        type: "kubernetes:core/v1:ConfigMap",
      };
    });
    const build = (steps: readonly PlannedStep[]) => async () =>
      buildInventory({ target: "big", runId: "preview", at: "", result: "drift-detected", resources, steps });
    const [pendingMs, plainMs] = await rounds(samples, [
      () => settled(build(creates)),
      () => settled(build([])),
    ]);
    const phaseNotes = (p: typeof phases.sqlite) =>
      `checkpoint read ${ms(stats(p.checkpoint))}, previous inventory read ${ms(stats(p.previous))}, build ${ms(stats(p.build))}, store ${ms(stats(p.store))} (medians); this process's CPU ${ms(stats(p.cpu))}`;

    // (b) The page and the API, served through createHandler: 2,000 resources vs none (and 20).
    const repo = createRepo(join(sandbox.dir, "repo"));
    const head = repo.commit({ "Pulumi.yaml": "name: platform\nruntime: nodejs\n" }, "platform");
    const pageStore = new SqliteStore(join(sandbox.dir, "pages.db"));
    stores.push(pageStore);
    const small = buildInventory({
      target: "small",
      runId: "run-small",
      at: new Date().toISOString(),
      result: "applied",
      resources: (await engine.resources(request)).slice(0, 20),
    });
    await pageStore.putInventory({ ...inventory, target: "big" });
    await pageStore.putInventory(small);
    const names = ["big", "small", "none"];
    const now = new Date().toISOString();
    for (const name of names) {
      const status: TargetStatus = {
        name,
        conditions: [
          { type: "Ready", status: true, reason: "Applied", message: "applied", since: now },
          { type: "Drifted", status: false, reason: "InSync", message: "in sync", since: now },
        ],
        lastAppliedRevision: head,
        lastAttemptedRevision: head,
        lastAppliedAt: now,
        updatedAt: now,
      };
      await pageStore.putStatus(status);
      // The page lists the last 20 runs.
      for (let r = 0; r < 20; r++) {
        const run = {
          id: `${name}-run-${r}`,
          target: name,
          trigger: "interval" as const,
          startedAt: now,
          drift: false,
          log: "",
        };
        await pageStore.startRun(run);
        await pageStore.finishRun({ ...run, finishedAt: now, result: "applied", revision: head });
      }
    }
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      store: pageStore,
      installDependencies: false,
      targets: names.map((name) => ({
        name,
        repo: repo.fileUrl,
        stack: name,
        passphrase: "bench",
        secretConfig: { apiToken: `bench-token-${name}` },
        interval: "1h",
      })),
    });
    const handler = createHandler(reconciler, { publicReads: true });
    const listening = createServer(handler);
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
    const address = listening.address();
    const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const size: Record<string, number> = {};
    const get = (path: string) => async () => {
      const response = await fetch(`${base}${path}`);
      if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`);
      size[path] = (await response.text()).length;
    };
    // The first view of each reads the mirror for commit subjects: warm up once, as a dashboard that has been open.
    for (const name of names) {
      await get(`/ui/targets/${name}`)();
      await get(`/targets/${name}/resources`)();
    }
    // How much of the inventory the page shows: names of resources found in it as whole words.
    const pageText = await (await fetch(`${base}/ui/targets/big`)).text();
    const shown = inventory.resources.filter((r) =>
      new RegExp(`(^|[^\\w-])${r.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^\\w-])`).test(pageText),
    ).length;
    progress(`inventory: target page and resources API, ${samples} runs each`);
    const [pageBig, pageNone, pageSmall, apiBig, apiNone, treeBig, treeNone] = (await rounds(samples, [
      () => settled(get("/ui/targets/big")),
      () => settled(get("/ui/targets/none")),
      () => settled(get("/ui/targets/small")),
      () => settled(get("/targets/big/resources")),
      () => settled(get("/targets/none/resources")),
      () => settled(get("/targets/big/resources?tree=1")),
      () => settled(get("/targets/none/resources?tree=1")),
    ])) as Stats[];
    const loadPage = loadavg()[0] ?? 0;
    const kib = (path: string) => `${((size[path] ?? 0) / 1024).toFixed(0)} KiB`;
    handler.close();

    const load = (n: number) => `load average ${n.toFixed(1)} on ${cpus().length} cores`;
    const goal = (limit: number, value: Stats) => ({ goal: `≤ ${limit} ms`, met: value.median <= limit });
    const versus = (value: Stats, baseline: Stats) => ({
      value,
      baseline,
      ratio: value.median / baseline.median,
    });
    return [
      {
        id: "inventory-record-sqlite",
        name: `inventory of ${count} resources read from the checkpoint and stored: SQLite`,
        unit: "ms",
        ...versus(sqliteMs as Stats, digestMs as Stats),
        ...goal(200, sqliteMs as Stats),
        notes: `what a run does after the engine (run.ts recordInventory): ${phaseNotes(phases.sqlite)}; one ${documentKiB.toFixed(0)} KiB JSON document per target; baseline: the state digest read every run already does (${(bytes / 2 ** 20).toFixed(1)} MiB checkpoint); ${load(loadRecord)}`,
      },
      {
        id: "inventory-record-postgres",
        name: `inventory of ${count} resources read from the checkpoint and stored: PostgreSQL`,
        unit: "ms",
        ...versus(postgresMs as Stats, digestMs as Stats),
        ...goal(200, postgresMs as Stats),
        notes: `${phaseNotes(phases.postgres)}; one JSON row per target (a JSON column: JSONB took several times longer to write); baseline: the state digest read`,
      },
      {
        id: "inventory-build-pending",
        name: `inventory of ${count} resources built after a preview that would create ${count} more`,
        unit: "ms",
        ...versus(pendingMs as Stats, plainMs as Stats),
        notes: `buildInventory alone (each pending create's parent looked up by its URN's type chain, through an index: a scan per create took 1.5–2.9 s); baseline: the same build with no steps`,
      },
      {
        id: "inventory-target-page",
        name: `target page of a target with ${count} resources: server time`,
        unit: "ms",
        ...versus(pageBig as Stats, pageNone as Stats),
        ...goal(300, pageBig as Stats),
        notes: `GET /ui/targets/<name> through createHandler to the last byte (${kib("/ui/targets/big")}, naming ${shown} of the ${count} resources: whatever the page renders of the inventory); baseline: the same page of a target with no inventory (${kib("/ui/targets/none")}); with 20 resources: ${ms(pageSmall as Stats)}; ${load(loadPage)}`,
      },
      {
        id: "inventory-api",
        name: `GET /targets/:name/resources, ${count} resources`,
        unit: "ms",
        ...versus(apiBig as Stats, apiNone as Stats),
        ...goal(300, apiBig as Stats),
        notes: `flat list, ${kib("/targets/big/resources")} of JSON; with ?tree=1 ${ms(treeBig as Stats)} (no inventory: ${ms(treeNone as Stats)}); baseline: a target with no inventory`,
      },
    ];
  } finally {
    if (server) await new Promise((resolve) => server?.close(resolve));
    await reconciler?.stop({ graceMs: 1000 });
    for (const store of stores) await store.close();
    await pg.dispose();
    sandbox.dispose();
  }
}
