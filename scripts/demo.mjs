#!/usr/bin/env node
// `make demo`: Git drives infrastructure, drift gets caught, a bad commit gets
// stopped — end to end on this machine with the embedded defaults (a file://
// state backend and SQLite status under the demo folder).
//
//   node scripts/demo.mjs [--data <dir>] [--quick] [--kubernetes]
//
// --data        demo folder (default: .demo in the repository); it starts fresh each time
// --quick       no engine event stream, for tests
// --kubernetes  then reconcile examples/kubernetes-app onto a local etcd + kube-apiserver
//               (`make demo K8S=1`; needs scripts/bootstrap-k8s.sh)
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// The demo narrates every step itself; the reconciler's own log stays quiet.
process.env.DRIFTLESS_LOG_LEVEL ??= "silent";
const { Reconciler, listen } = await import(join(root, "packages/gitops/dist/index.js"));

const { values: args } = parseArgs({
  options: {
    data: { type: "string" },
    quick: { type: "boolean", default: false },
    kubernetes: { type: "boolean", default: false },
  },
});
const demoDir = resolve(args.data ?? join(root, ".demo"));
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (text) => console.log(`[demo ${elapsed()}] ${text}`);
const step = (n, text) => console.log(`\n[demo ${elapsed()}] ── step ${n}: ${text}`);
const fail = (text) => {
  console.error(`[demo] FAILED: ${text}`);
  process.exit(1);
};

function git(cwd, ...gitArgs) {
  return execFileSync("git", gitArgs, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Demo User",
      GIT_AUTHOR_EMAIL: "demo@example.com",
      GIT_COMMITTER_NAME: "Demo User",
      GIT_COMMITTER_EMAIL: "demo@example.com",
    },
  }).trim();
}

function commit(work, message) {
  git(work, "add", "-A");
  git(work, "commit", "--quiet", "-m", message);
  git(work, "push", "--quiet", "origin", "HEAD:main");
  const sha = git(work, "rev-parse", "HEAD");
  say(`committed ${sha.slice(0, 12)} "${message}"`);
  return sha;
}

function expectResult(run, ...wanted) {
  if (!wanted.includes(run.result))
    fail(`expected ${wanted.join(" or ")}, got ${run.result}: ${run.error ?? ""}`);
  const counts = run.counts
    ? Object.entries(run.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(", ")
    : "";
  say(`run ${run.result}${counts ? ` (${counts})` : ""}${run.drift ? " — drift" : ""}`);
}

// ── 0. a fresh demo folder ────────────────────────────────────────────────────
if (existsSync(demoDir)) {
  rmSync(demoDir, { recursive: true, force: true });
  say(`starting fresh: removed the previous demo folder ${demoDir}`);
} else {
  say(`starting fresh in ${demoDir}`);
}
mkdirSync(demoDir, { recursive: true });

step(1, "create a Git repository from examples/local-site");
const example = join(root, "examples/local-site");
const remote = join(demoDir, "infra.git");
const work = join(demoDir, "checkout");
const site = join(demoDir, "site");
git(demoDir, "init", "--quiet", "--bare", "--initial-branch=main", remote);
// Not a clone of the empty remote: git would warn that it is empty.
git(demoDir, "init", "--quiet", "--initial-branch=main", work);
git(work, "remote", "add", "origin", remote);
cpSync(example, work, {
  recursive: true,
  filter: (src) => !/node_modules|[/\\]public$|[/\\]\.state$/.test(src),
});
const first = commit(work, "Add the site");

step(2, "start the reconciler (file:// state backend, SQLite status)");
const reconciler = await Reconciler.create({
  dataDir: join(demoDir, "data"),
  installDependencies: false,
  targets: [
    {
      name: "local-site",
      repo: `file://${remote}`,
      stack: "demo",
      // A demo passphrase; real deployments read one from an env var or file.
      passphrase: "driftless-demo",
      config: { outDir: site },
      interval: "1h",
      env: {
        // The demo program uses the SDK the workspace installed for the example.
        NODE_PATH: join(example, "node_modules"),
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        PULUMI_HOME: process.env.PULUMI_HOME ?? join(demoDir, "pulumi-home"),
      },
    },
  ],
});
reconciler.on("run.progress", (event) => {
  if (event.step !== "engine") say(`  ${event.step}: ${event.message}`);
  else if (
    !args.quick &&
    event.engine?.kind === "resource" &&
    event.engine.done &&
    !/pulumi:(pulumi|providers):/.test(event.engine.urn)
  )
    say(`    ${event.engine.op} ${event.engine.urn.split("::").at(-1)}`);
});
// The HTTP API on loopback, read below: status reads are open for the demo;
// control routes (reconcile, approve, suspend) need this bearer token.
const token = randomBytes(12).toString("hex");
const server = await listen(reconciler, { host: "127.0.0.1", port: 0, tokens: [token], publicReads: true });
// The server stops with the demo: no command to try is printed for it.
say(`HTTP API on ${server.url} while the demo runs (\`driftless serve\` keeps one running)`);

step(3, "apply the first commit");
const firstRun = await reconciler.reconcile("local-site", { trigger: "webhook", force: false });
expectResult(firstRun, "applied");
say(`outputs: ${JSON.stringify((await reconciler.status("local-site")).outputs)}`);
if ((await reconciler.status("local-site")).lastAppliedRevision !== first)
  fail("the first commit was not recorded as applied");

step(4, "commit a change: a new heading and a new page");
const siteJson = JSON.parse(readFileSync(join(work, "site.json"), "utf8"));
siteJson.pages["index.html"].heading = "Hello again from Git";
siteJson.pages["contact.html"] = { template: "page.html", heading: "Contact", body: "Added by a commit." };
writeFileSync(join(work, "site.json"), `${JSON.stringify(siteJson, null, 2)}\n`);
commit(work, "Add a contact page");
expectResult(await reconciler.reconcile("local-site", { trigger: "webhook", force: false }), "applied");
if (!existsSync(join(site, "contact.html"))) fail("contact.html was not rendered");
say(`contact.html is on disk: ${join(site, "contact.html")}`);

step(5, "change a managed file by hand");
writeFileSync(join(site, "about.html"), "<h1>edited by hand</h1>\n");
say("wrote about.html by hand; the next check refreshes and previews");
expectResult(await reconciler.reconcile("local-site", { trigger: "manual" }), "drift-corrected");
if (readFileSync(join(site, "about.html"), "utf8").includes("edited by hand"))
  fail("drift was not corrected");
say("about.html is back to what Git says");

step(6, "commit a broken program");
writeFileSync(
  join(work, "index.ts"),
  `${readFileSync(join(work, "index.ts"), "utf8")}\nthis line does not compile;\n`,
);
const broken = commit(work, "Break the program");
const before = readFileSync(join(site, "index.html"), "utf8");
const brokenRun = await reconciler.reconcile("local-site", { trigger: "webhook", force: false });
expectResult(brokenRun, "stalled");
for (const line of (brokenRun.error ?? "")
  .split("\n")
  .filter((l) => /error/i.test(l))
  .slice(0, 3))
  say(`  ${line.trim()}`);
if (readFileSync(join(site, "index.html"), "utf8") !== before) fail("a broken commit changed the site");
say("nothing changed on disk; the target waits for a new revision");

step(7, "revert the broken commit");
git(work, "revert", "--no-edit", broken);
git(work, "push", "--quiet", "origin", "HEAD:main");
say(`reverted ${broken.slice(0, 12)}`);
expectResult(
  await reconciler.reconcile("local-site", { trigger: "webhook", force: false }),
  "unchanged",
  "applied",
);

step(8, "status and history");
const viaHttp = await (await fetch(`${server.url}/targets/local-site`)).json();
say(`GET /targets/local-site → ${JSON.stringify(viaHttp).slice(0, 160)}…`);
const status = await reconciler.status("local-site");
const condition = (type) => status.conditions.find((c) => c.type === type);
console.log(`\n  TARGET      READY  STALLED  DRIFTED  APPLIED REVISION`);
console.log(
  `  local-site  ${String(condition("Ready")?.status ?? false).padEnd(5)}  ${String(condition("Stalled")?.status ?? false).padEnd(7)}  ${String(condition("Drifted")?.status ?? false).padEnd(7)}  ${status.lastAppliedRevision?.slice(0, 12)}`,
);
console.log(`\n  WHEN                      TRIGGER   REVISION      RESULT`);
const history = (await reconciler.history("local-site", 20)).reverse();
for (const run of history) {
  console.log(
    `  ${run.startedAt.padEnd(24)}  ${run.trigger.padEnd(8)}  ${(run.revision ?? "").slice(0, 12).padEnd(12)}  ${run.result}`,
  );
}
writeFileSync(
  join(demoDir, "summary.json"),
  JSON.stringify({ status, results: history.map((r) => r.result) }, null, 2),
);
if (condition("Ready")?.status !== true) fail("the target did not end Ready");
if (args.kubernetes) await kubernetesDemo();
await server.shutdown({ graceMs: 5000 });
say(`done: Git drove the site, drift was corrected, a bad commit was stopped. Data: ${demoDir}`);

// The same loop against a lifelike Kubernetes cluster (controllers, scheduler
// and a Node simulated by kwok, no container runs) through upstream's Pulumi
// Kubernetes provider: a commit rolls the Deployment out and the run returns
// once its Pods are Ready; a hand edit is put back.
async function kubernetesDemo() {
  const { startCluster } = await import(join(root, "test/support/cluster.ts"));
  step(
    "K1",
    "start etcd, kube-apiserver, controller-manager, scheduler and kwok on loopback (one simulated Node: Pods become Ready, no container runs)",
  );
  const cluster = await startCluster();
  try {
    say(`API server ${cluster.server}; KUBECONFIG=${cluster.kubeconfigPath}`);
    const { body: nodes } = await cluster.api("GET", "/api/v1/nodes");
    say(
      `nodes: ${nodes.items.map((n) => `${n.metadata.name} Ready=${n.status.conditions.find((c) => c.type === "Ready")?.status}`).join(", ")}`,
    );
    step("K2", "create a Git repository from examples/kubernetes-app");
    const appExample = join(root, "examples/kubernetes-app");
    const appRemote = join(demoDir, "k8s.git");
    const appWork = join(demoDir, "k8s-checkout");
    git(demoDir, "init", "--quiet", "--bare", "--initial-branch=main", appRemote);
    git(demoDir, "init", "--quiet", "--initial-branch=main", appWork);
    git(appWork, "remote", "add", "origin", appRemote);
    cpSync(appExample, appWork, { recursive: true, filter: (src) => !/node_modules/.test(src) });
    const stackConfig = (replicas) => `config:\n  kubernetes-app:replicas: "${replicas}"\n`;
    writeFileSync(join(appWork, "Pulumi.k8s.yaml"), stackConfig(2));
    commit(appWork, "Add the shop");
    reconciler.addTarget({
      name: "kubernetes-app",
      repo: `file://${appRemote}`,
      stack: "k8s",
      passphrase: "driftless-demo",
      config: { kubeconfig: cluster.kubeconfigPath },
      interval: "1h",
      env: {
        NODE_PATH: join(appExample, "node_modules"),
        PATH: cluster.path,
        PULUMI_HOME: process.env.PULUMI_HOME ?? join(demoDir, "pulumi-home"),
      },
    });
    const replicas = async () => {
      const { body } = await cluster.api("GET", "/apis/apps/v1/deployments");
      return body.items
        .map(
          (d) =>
            `${d.metadata.namespace}/${d.metadata.name}: ${d.spec.replicas} replicas, ${d.status.readyReplicas ?? 0} ready`,
        )
        .join(", ");
    };
    // The Pods as kubectl get pods shows them: the run returned only once they were Ready.
    const pods = async () => {
      const { body } = await cluster.api("GET", "/api/v1/pods");
      const live = body.items.filter((p) => !p.metadata.deletionTimestamp);
      console.log(`\n  POD${" ".repeat(30)}NODE          PHASE     READY  IMAGE`);
      for (const p of live) {
        const ready = p.status.conditions?.find((c) => c.type === "Ready")?.status === "True";
        console.log(
          `  ${`${p.metadata.namespace}/${p.metadata.name}`.padEnd(32)} ${(p.spec.nodeName ?? "-").padEnd(13)} ${(p.status.phase ?? "").padEnd(9)} ${String(ready).padEnd(6)} ${p.spec.containers[0].image}`,
        );
      }
      console.log("");
      return live;
    };
    const readyPods = (list, count) => {
      if (
        list.filter(
          (p) =>
            p.status.phase === "Running" &&
            p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        ).length !== count
      )
        fail(`expected ${count} Running and Ready Pods when the run returned`);
    };
    step("K3", "apply the first commit: the run returns once the rollout is Ready");
    expectResult(
      await reconciler.reconcile("kubernetes-app", { trigger: "webhook", force: false }),
      "applied",
    );
    say(`deployments: ${await replicas()}`);
    readyPods(await pods(), 2);
    step("K4", "commit replicas: 3 and a new image");
    writeFileSync(
      join(appWork, "Pulumi.k8s.yaml"),
      `${stackConfig(3)}  kubernetes-app:image: ghcr.io/acme/api:1.5.0\n`,
    );
    commit(appWork, "Scale the api to 3, image 1.5.0");
    // drift-corrected when refresh saw the controllers move the Deployment's status.
    expectResult(
      await reconciler.reconcile("kubernetes-app", { trigger: "webhook", force: false }),
      "applied",
      "drift-corrected",
    );
    say(`deployments: ${await replicas()}`);
    readyPods(await pods(), 3);
    step("K5", "scale the Deployment by hand, as someone with kubectl would");
    const { body: list } = await cluster.api("GET", "/apis/apps/v1/deployments");
    const live = list.items[0];
    live.spec.replicas = 7;
    await cluster.api(
      "PUT",
      `/apis/apps/v1/namespaces/${live.metadata.namespace}/deployments/${live.metadata.name}`,
      live,
    );
    say(`deployments: ${await replicas()}`);
    expectResult(await reconciler.reconcile("kubernetes-app", { trigger: "manual" }), "drift-corrected");
    say(`deployments: ${await replicas()}`);
  } finally {
    await cluster.stop();
    say("stopped the local cluster");
  }
}
