// GitOps for Kubernetes, timed on the lifelike local cluster (etcd,
// kube-apiserver, controller-manager, scheduler and a kwok-simulated Node, from
// scripts/bootstrap-k8s.sh) through upstream's Pulumi Kubernetes provider: from
// a pushed commit, triggered as a webhook would, to the Deployment rolled out
// and Ready (every replica updated and ready, as the provider's await sees it);
// and from an out-of-band edit to its correction, rolled out again. Prints
// progress on stderr and one JSON line last on stdout. Usage: node bench/k8s.mjs [runs=5]  (after `pnpm exec tsc -b packages/core packages/gitops`)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
// Node >= 23.6 loads these TypeScript helpers as they are.
import { startCluster } from "../test/support/cluster.ts";
import { engineSandbox } from "../test/support/engine.ts";
import { createRepo } from "../test/support/git.ts";

const runs = Math.max(5, Number.parseInt(process.argv[2] ?? "5", 10) || 5);
const testDir = fileURLToPath(new URL("../test/", import.meta.url));
const program = join(testDir, "fixtures", "k8s-program");
// The e2e workspace package has the dependencies the program and this script need.
const fromTests = createRequire(join(testDir, "package.json"));
const { Reconciler } = await import(fromTests.resolve("@driftless/gitops"));
const { AppsV1Api, KubeConfig } = await import(fromTests.resolve("@kubernetes/client-node"));

const log = (message) => process.stderr.write(`[bench k8s] ${message}\n`);
const stats = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), samples };
};
const round = (ms) => Math.round(ms);

const cluster = await startCluster();
const sandbox = engineSandbox("driftless-k8s-bench-");
let reconciler;
try {
  const repo = createRepo(join(sandbox.dir, "repo"), { seed: program });
  const app = JSON.parse(readFileSync(join(program, "app.json"), "utf8"));
  repo.commit({}, "bench v0");
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  const apps = kc.makeApiClient(AppsV1Api);
  const read = () => apps.readNamespacedDeployment({ name: "api", namespace: app.namespace });

  reconciler = await Reconciler.create({
    dataDir: join(sandbox.dir, "data"),
    installDependencies: false,
    targets: [
      {
        name: "shop",
        repo: repo.fileUrl,
        stack: "bench",
        passphrase: "bench",
        config: { kubeconfig: cluster.kubeconfigPath },
        env: { ...sandbox.env, NODE_PATH: join(testDir, "node_modules"), PATH: cluster.path },
        interval: "1h",
        resync: "1h",
      },
    ],
  });
  const first = await reconciler.reconcile("shop");
  if (first.result !== "applied") throw new Error(`first apply: ${first.result} ${first.error ?? ""}`);
  log(`cluster ${cluster.server}; first apply done`);

  /** Rolled out: the current generation observed, every replica updated and Ready. */
  const ready = (d, replicas) =>
    d.status?.observedGeneration === d.metadata.generation &&
    d.status?.updatedReplicas === replicas &&
    d.status?.readyReplicas === replicas &&
    (d.status?.replicas ?? 0) === replicas;

  /** Polls the API server until `done(deployment)`; returns the time it became true. */
  const until = async (done) => {
    for (;;) {
      if (done(await read())) return performance.now();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const commitToApplied = [];
  const driftToCorrected = [];
  for (let i = 1; i <= runs; i++) {
    // A commit: replicas and image change; the clock starts at the push.
    const replicas = 2 + (i % 3);
    const image = `ghcr.io/acme/api:1.${i}.0`;
    app.services.api = { ...app.services.api, replicas, image };
    const started = performance.now();
    repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, `api ${image}`);
    const request = await reconciler.request("shop", { trigger: "webhook", force: false });
    const seen = await until(
      (d) =>
        d.spec.replicas === replicas &&
        d.spec.template.spec.containers[0].image === image &&
        ready(d, replicas),
    );
    const run = await request.done;
    // drift-corrected when refresh saw the controllers move the Deployment's status.
    if (run.result !== "applied" && run.result !== "drift-corrected")
      throw new Error(`run ${i}: ${run.result} ${run.error ?? ""}`);
    commitToApplied.push(seen - started);

    // An out-of-band edit, then a run as the resync interval would start it.
    const live = await read();
    live.spec.replicas = 9;
    const edited = performance.now();
    await apps.replaceNamespacedDeployment({
      name: "api",
      namespace: app.namespace,
      body: live,
      fieldManager: "kubectl-edit",
    });
    const correction = await reconciler.request("shop", { trigger: "manual" });
    const corrected = await until((d) => d.spec.replicas === replicas && ready(d, replicas));
    const fixed = await correction.done;
    if (fixed.result !== "drift-corrected")
      throw new Error(`drift run ${i}: ${fixed.result} ${fixed.error ?? ""}`);
    driftToCorrected.push(corrected - edited);
    log(
      `run ${i}/${runs}: commit→Ready ${round(seen - started)} ms, edit→corrected ${round(corrected - edited)} ms`,
    );
  }

  const summary = (samples) => {
    const s = stats(samples.map(round));
    return { median: s.median, min: s.min, max: s.max, samples: s.samples };
  };
  console.log(
    JSON.stringify({
      benchmark: "k8s",
      runs,
      unit: "ms",
      commitToDeploymentReady: summary(commitToApplied),
      outOfBandEditToCorrected: summary(driftToCorrected),
    }),
  );
} finally {
  await reconciler?.stop({ graceMs: 1000 });
  await cluster.stop();
  sandbox.dispose();
}
