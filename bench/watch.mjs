// Watch-driven drift detection, timed on the lifelike local cluster with
// upstream's Pulumi Kubernetes provider (see bench/watch.ts for the figures):
//   1. hand edit → corrected and Service deleted → recreated (apply mode),
//      hand edit → drift reported (detect mode), each over `runs` edits of the
//      Deployment's image or deletions of its Service;
//   2. a watch's targeted drift check (detect mode: a refresh preview of the
//      changed object, no program run) of 1 changed ConfigMap in a stack of
//      ~200 resources against a forced full drift check (refresh + preview),
//      interleaved, each with its run's step timings;
//   3. idle: `idleTargets` targets × 20 ConfigMaps watched, nothing changing,
//      for `idleSeconds`: CPU of this process, engine calls, RSS the watches
//      added. The engine is a stand-in there (the objects are made through the
//      API, the stack's state names them): what is measured is the watches;
//   4. quiet: one watched target applying its own commits for `quietSeconds`
//      (a new image or a new replica count each minute: rollouts, Pods coming
//      and going, status moving), with the real engine: watch-driven runs
//      started (there should be none).
// Prints progress on stderr and one JSON line last on stdout.
// Usage: node bench/watch.mjs [runs=5] [idleSeconds=60] [idleTargets=50] [parts=edits,targeted,idle,quiet] [quietSeconds=60]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster } from "../test/support/cluster.ts";
import { engineSandbox } from "../test/support/engine.ts";
import { createRepo } from "../test/support/git.ts";

const runs = Math.max(1, Number.parseInt(process.argv[2] ?? "5", 10) || 5);
const idleSeconds = Number.parseInt(process.argv[3] ?? "60", 10) || 60;
const idleTargets = Number.parseInt(process.argv[4] ?? "50", 10) || 50;
const parts = (process.argv[5] ?? "edits,targeted,idle,quiet").split(",");
const quietSeconds = Number.parseInt(process.argv[6] ?? "60", 10) || 60;
const testDir = fileURLToPath(new URL("../test/", import.meta.url));
const fromTests = createRequire(join(testDir, "package.json"));
const { Reconciler } = await import(fromTests.resolve("@driftless/gitops"));

const log = (message) => process.stderr.write(`[bench watch] ${message}\n`);
const stats = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), samples };
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (check, what, timeoutMs = 300_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
};

const cluster = await startCluster();
const sandbox = engineSandbox("driftless-watch-bench-");
const result = { benchmark: "watch", runs };
const reconcilers = [];
const create = async (options) => {
  const r = await Reconciler.create(options);
  reconcilers.push(r);
  return r;
};
const target = (name, repo, extra = {}) => ({
  name,
  repo: repo.fileUrl,
  stack: "bench",
  passphrase: "bench",
  config: { kubeconfig: cluster.kubeconfigPath },
  env: { ...sandbox.env, NODE_PATH: join(testDir, "node_modules"), PATH: cluster.path },
  interval: "1h",
  resync: "1h",
  ...extra,
});
/** Server-side apply of a new image by another field manager, as `kubectl apply --server-side --force-conflicts`. */
const editImage = async (path, image) => {
  const live = (await cluster.api("GET", path)).body;
  const name = live.spec.template.spec.containers[0].name;
  const { status } = await cluster.api(
    "PATCH",
    `${path}?fieldManager=hotfix&force=true`,
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: live.metadata.name, namespace: live.metadata.namespace },
      spec: { template: { spec: { containers: [{ name, image }] } } },
    },
    "application/apply-patch+yaml",
  );
  if (status !== 200) throw new Error(`edit answered ${status}`);
};
const watchRuns = async (r, name) =>
  (await r.history(name, 200)).filter((x) => x.trigger === "watch" && x.finishedAt);
/** The first watch-triggered run of `name` to finish after the `before` ones. */
const nextWatchRun = (r, name, before) =>
  until(async () => {
    const list = await watchRuns(r, name);
    return list.length > before ? list[0] : undefined;
  }, `the next watch run of ${name}`);

/** The run's `[steps]` line: how long each of its steps took. */
const stepsOf = async (r, run) => {
  const read = await r.runLog(run.id);
  return (read?.text ?? "").split("\n").find((l) => l.includes("[steps]")) ?? "(no steps line)";
};

try {
  if (parts.includes("edits")) {
    const program = join(testDir, "fixtures", "k8s-inventory");
    const repo = createRepo(join(sandbox.dir, "edits"), { seed: program });
    const app = JSON.parse(readFileSync(join(program, "app.json"), "utf8"));
    repo.commit({}, "bench v1");
    const r = await create({
      dataDir: join(sandbox.dir, "edits-data"),
      installDependencies: false,
      targets: [target("edits", repo)],
    });
    const first = await r.reconcile("edits");
    if (first.result !== "applied") throw new Error(`first apply: ${first.result} ${first.error ?? ""}`);
    r.start();
    const path = "/apis/apps/v1/namespaces/inventory/deployments/api";
    const image = async () => (await cluster.api("GET", path)).body.spec.template.spec.containers[0].image;
    await until(async () => (await r.watchStats()).open >= 3, "the watches");
    const corrected = [];
    for (let i = 1; i <= runs; i++) {
      const before = (await watchRuns(r, "edits")).length;
      const edited = performance.now();
      await editImage(path, `ghcr.io/acme/api:hotfix-${i}`);
      await until(async () => (await image()) === app.image, "the correction");
      const back = performance.now();
      const run = await nextWatchRun(r, "edits", before);
      if (run.result !== "drift-corrected") throw new Error(`edit ${i}: ${run.result} ${run.error ?? ""}`);
      corrected.push(Math.round(back - edited));
      log(`apply: edit ${i}/${runs} corrected in ${Math.round(back - edited)} ms`);
    }
    const service = "/api/v1/namespaces/inventory/services/api";
    const recreated = [];
    for (let i = 1; i <= runs; i++) {
      const before = (await watchRuns(r, "edits")).length;
      const deleted = performance.now();
      const { status } = await cluster.api("DELETE", service);
      if (status !== 200) throw new Error(`delete answered ${status}`);
      await until(async () => (await cluster.api("GET", service)).status === 200, "the Service recreated");
      const back = performance.now();
      const run = await nextWatchRun(r, "edits", before);
      if (run.result !== "drift-corrected") throw new Error(`delete ${i}: ${run.result} ${run.error ?? ""}`);
      recreated.push(Math.round(back - deleted));
      log(`apply: Service deleted ${i}/${runs}, recreated in ${Math.round(back - deleted)} ms`);
    }
    r.addTarget(target("edits", repo, { mode: "detect" }));
    await r.reconcile("edits", { trigger: "manual" });
    const reported = [];
    for (let i = 1; i <= runs; i++) {
      const edited = performance.now();
      const found = new Promise((resolve) => {
        const off = r.on("drift.detected", () => {
          off();
          resolve(performance.now());
        });
      });
      await editImage(path, `ghcr.io/acme/api:detect-${i}`);
      const at = await found;
      reported.push(Math.round(at - edited));
      await until(async () => (await watchRuns(r, "edits")).length >= runs + i, "the run's end");
      log(`detect: edit ${i}/${runs} reported in ${Math.round(at - edited)} ms`);
    }
    result.editToCorrected = stats(corrected);
    result.editToReported = stats(reported);
    result.deleteToRecreated = stats(recreated);
    await r.stop({ graceMs: 1000 });
  }

  if (parts.includes("targeted")) {
    const program = fileURLToPath(new URL("./fixtures/k8s-many/", import.meta.url));
    const repo = createRepo(join(sandbox.dir, "many"), { seed: program });
    repo.commit({}, "many");
    const r = await create({
      dataDir: join(sandbox.dir, "many-data"),
      installDependencies: false,
      targets: [
        target("many", repo, {
          config: { kubeconfig: cluster.kubeconfigPath, count: "200" },
          timeout: "30m",
        }),
      ],
    });
    const first = await r.reconcile("many");
    if (first.result !== "applied") throw new Error(`first apply: ${first.result} ${first.error ?? ""}`);
    r.addTarget(
      target("many", repo, {
        mode: "detect",
        config: { kubeconfig: cluster.kubeconfigPath, count: "200" },
        timeout: "30m",
      }),
    );
    await r.reconcile("many", { trigger: "manual" });
    const resources = (await r.resources("many")).resources.length;
    r.start();
    await until(async () => (await r.watchStats()).open >= 2, "the watches");
    const duration = (run) => Date.parse(run.finishedAt) - Date.parse(run.startedAt);
    const targeted = [];
    const full = [];
    for (let i = 1; i <= runs; i++) {
      const before = (await watchRuns(r, "many")).length;
      const { status } = await cluster.api(
        "PATCH",
        `/api/v1/namespaces/many/configmaps/cm-${i}?fieldManager=kubectl-edit`,
        { data: { index: `edited-${i}` } },
      );
      if (status !== 200) throw new Error(`edit answered ${status}`);
      const run = await nextWatchRun(r, "many", before);
      targeted.push(duration(run));
      const forced = await r.reconcile("many", { trigger: "manual", force: true });
      full.push(duration(forced));
      log(`targeted ${duration(run)} ms (${run.result}), full ${duration(forced)} ms (${forced.result})`);
      log(`  targeted ${await stepsOf(r, run)}`);
      log(`  full     ${await stepsOf(r, forced)}`);
    }
    result.targeted = { resources, targeted: stats(targeted), full: stats(full) };
    await r.stop({ graceMs: 1000 });
  }

  if (parts.includes("idle")) result.idle = await idle();
  if (parts.includes("quiet")) result.quiet = await quiet();
  console.log(JSON.stringify(result));
} finally {
  for (const r of reconcilers) await r.stop({ graceMs: 1000 }).catch(() => undefined);
  await cluster.stop();
  sandbox.dispose();
}

/** `idleTargets` targets × 20 ConfigMaps, watched and left alone for `idleSeconds`. */
async function idle() {
  const perTarget = 20;
  const engineCalls = { count: 0 };
  const providerUrn = (stack) => `urn:pulumi:${stack}::idle::pulumi:providers:kubernetes::cluster`;
  // Stands in for the engine: nothing to change, and a state naming the target's objects.
  const engine = {
    async preview() {
      engineCalls.count++;
      return {
        counts: { create: 0, update: 0, delete: 0, replace: 0, same: perTarget },
        steps: [],
        changes: false,
      };
    },
    async up() {
      engineCalls.count++;
      return { counts: { create: 0, update: 0, delete: 0, replace: 0, same: perTarget }, outputs: {} };
    },
    async destroy() {
      return { counts: { create: 0, update: 0, delete: 0, replace: 0, same: 0 }, outputs: {} };
    },
    async recover() {
      return [];
    },
    async state(request) {
      engineCalls.count++;
      const stack = request.stack;
      const resources = [
        {
          urn: providerUrn(stack),
          type: "pulumi:providers:kubernetes",
          custom: true,
          outputs: { kubeconfig: cluster.kubeconfigPath },
        },
        ...Array.from({ length: perTarget }, (_, i) => ({
          urn: `urn:pulumi:${stack}::idle::kubernetes:core/v1:ConfigMap::cm-${i}`,
          type: "kubernetes:core/v1:ConfigMap",
          custom: true,
          provider: `${providerUrn(stack)}::id`,
          outputs: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}`, namespace: stack } },
        })),
      ];
      return { version: stack, resources };
    },
  };
  log(`idle: creating ${idleTargets} namespaces × ${perTarget} ConfigMaps`);
  for (let t = 0; t < idleTargets; t++) {
    const ns = `idle-${t}`;
    await cluster.api("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    await Promise.all(
      Array.from({ length: perTarget }, (_, i) =>
        cluster.api("POST", `/api/v1/namespaces/${ns}/configmaps`, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `cm-${i}`, namespace: ns },
          data: { index: String(i) },
        }),
      ),
    );
  }
  const repo = createRepo(join(sandbox.dir, "idle"), { seed: join(testDir, "fixtures", "k8s-inventory") });
  repo.commit({}, "idle");
  const spec = (t, watch) => target(`idle-${t}`, repo, { stack: `idle-${t}`, watch });
  const r = await create({
    dataDir: join(sandbox.dir, "idle-data"),
    installDependencies: false,
    engine,
    concurrency: 8,
    targets: Array.from({ length: idleTargets }, (_, t) => spec(t, false)),
  });
  for (let t = 0; t < idleTargets; t++) await r.reconcile(`idle-${t}`);
  const settle = async () => {
    await sleep(2000);
    globalThis.gc?.();
    await sleep(500);
    return process.memoryUsage().rss;
  };
  const rssBefore = await settle();
  for (let t = 0; t < idleTargets; t++) {
    r.addTarget(spec(t, true));
    await r.reconcile(`idle-${t}`, { trigger: "manual", force: true });
  }
  await until(async () => (await r.watchStats()).open >= 1, "the watches");
  const rssAfter = await settle();
  const openWatches = (await r.watchStats()).open;
  r.start();
  await sleep(2000);
  const calls = engineCalls.count;
  const before = (await r.watchStats()).checks;
  log(
    `idle: ${idleTargets * perTarget} objects watched by ${openWatches} watch(es); idle for ${idleSeconds} s`,
  );
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await sleep(idleSeconds * 1000);
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - t0;
  const stats = await r.watchStats();
  await r.stop({ graceMs: 1000 });
  return {
    targets: idleTargets,
    objects: idleTargets * perTarget,
    seconds: idleSeconds,
    openWatches,
    cpuPercentOfCore: ((used.user + used.system) / 1000 / elapsed) * 100,
    engineCalls: engineCalls.count - calls,
    driftChecks: stats.checks - before,
    rssAddedMB: (rssAfter - rssBefore) / 2 ** 20,
  };
}

/**
 * One watched target applying its own commits for `quietSeconds`, one a
 * minute (the first at once): a new image (a rollout: new ReplicaSet, Pods
 * replaced) or a new replica count (Pods added or removed), each rolled out
 * to Ready by the provider. Everything the watches see is the target's own
 * runs or the controllers' status updates: no drift check should start.
 */
async function quiet() {
  const program = join(sandbox.dir, "quiet-program");
  const { cpSync } = await import("node:fs");
  cpSync(join(testDir, "fixtures", "k8s-inventory"), program, { recursive: true });
  const repo = createRepo(join(sandbox.dir, "quiet"), { seed: program });
  const app = JSON.parse(readFileSync(join(program, "app.json"), "utf8"));
  repo.commit({}, "quiet v0");
  const r = await create({
    dataDir: join(sandbox.dir, "quiet-data"),
    installDependencies: false,
    targets: [target("quiet", repo, { config: { kubeconfig: cluster.kubeconfigPath, namespace: "quiet" } })],
  });
  const first = await r.reconcile("quiet");
  if (first.result !== "applied") throw new Error(`first apply: ${first.result} ${first.error ?? ""}`);
  r.start();
  await until(async () => (await r.watchStats()).open >= 3, "the watches");
  const before = await r.watchStats();
  const started = performance.now();
  let commits = 0;
  log(`quiet: applying a commit a minute for ${quietSeconds} s; watch-driven runs must stay at 0`);
  while (performance.now() - started < quietSeconds * 1000) {
    commits++;
    const change =
      commits % 2
        ? { ...app, image: `ghcr.io/acme/api:1.0.${commits}` }
        : { ...app, replicas: 2 + (commits % 4) };
    Object.assign(app, change);
    repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, `quiet ${commits}`);
    const run = await r.reconcile("quiet", { trigger: "manual" });
    if (run.result !== "applied") throw new Error(`commit ${commits}: ${run.result} ${run.error ?? ""}`);
    log(
      `quiet: commit ${commits} applied (${commits % 2 ? "image" : "replicas"}); watch runs so far ${(await watchRuns(r, "quiet")).length}`,
    );
    const next = started + commits * 60_000;
    await sleep(Math.max(0, Math.min(next, started + quietSeconds * 1000) - performance.now()));
  }
  // Events of the last rollout still arriving are judged too.
  await sleep(5000);
  const after = await r.watchStats();
  const runs = (await r.history("quiet", 500)).filter((x) => x.trigger === "watch").length;
  await r.stop({ graceMs: 1000 });
  return {
    seconds: Math.round((performance.now() - started) / 1000),
    commits,
    received: after.received - before.received,
    ignored: after.ignored - before.ignored,
    watchRuns: runs,
  };
}
