// Watch-driven drift detection on the lifelike cluster with upstream's
// Kubernetes provider (the k8s-inventory fixture: a Namespace, a ConfigBundle
// and a WebService): a hand edit by another field manager starts a drift
// check of only the changed objects (trigger `watch`, `refresh --preview-only
// --target`, then in apply mode `preview --refresh --target` and `up`),
// corrected in apply mode and reported in detect mode, a label another tool
// adds is no drift; the controllers and
// the target's own runs start none; a restarted API server is watched again;
// `watch: false` leaves drift to resync. One cluster, one sandbox.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type RunRecord, type TargetSpec } from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { clusterTarget } from "./support/clusterTarget.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { untilAsync } from "./support/wait.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-inventory/", import.meta.url));
const NS = "inventory";
const IMAGE_PATH = "spec.template.spec.containers[0].image";
const DEPLOYMENT = `/apis/apps/v1/namespaces/${NS}/deployments/api`;
const SERVICE = `/api/v1/namespaces/${NS}/services/api`;

interface DeploymentView {
  spec: { template: { spec: { containers: { name: string; image: string }[] } } };
}

describe("watch-driven drift detection on a lifelike cluster", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let deploymentUrn: string;
  let app: { image: string };

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => {
    const target = clusterTarget("w", { repo, cluster, sandbox }, overrides);
    // The reconciler's own compile cache, under its data directory (the first scenario checks
    // it), not the one the other end-to-end files share.
    const { NODE_COMPILE_CACHE: _shared, ...env } = target.env ?? {};
    return { ...target, env };
  };
  const image = async () =>
    (await cluster.api<DeploymentView>("GET", DEPLOYMENT)).body.spec.template.spec.containers[0]!.image;
  /** `kubectl apply --server-side --force-conflicts` of a new image by another field manager. */
  const handEdit = async (to: string) => {
    const container = (await cluster.api<DeploymentView>("GET", DEPLOYMENT)).body.spec.template.spec
      .containers[0]!.name;
    const edited = await cluster.api(
      "PATCH",
      `${DEPLOYMENT}?fieldManager=hotfix&force=true`,
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "api", namespace: NS },
        spec: { template: { spec: { containers: [{ name: container, image: to }] } } },
      },
      "application/apply-patch+yaml",
    );
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
  };
  const watchRuns = async () => (await reconciler.history("w", 100)).filter((r) => r.trigger === "watch");
  /** The next finished watch-triggered run after `seen` of them. */
  const nextWatchRun = (seen: number, what: string) =>
    untilAsync(
      async () => {
        const runs = (await watchRuns()).filter((r) => r.finishedAt);
        return runs.length > seen ? (runs[0] as RunRecord) : undefined;
      },
      what,
      60_000,
    );
  const fullLog = async (id: string) => (await reconciler.runLog(id))?.text ?? "";
  const watching = async () => (await reconciler.status("w")).conditions.find((c) => c.type === "Watching");

  beforeAll(async () => {
    cluster = await startCluster();
    sandbox = engineSandbox("driftless-watch-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: PROGRAM });
    app = JSON.parse(readFileSync(join(PROGRAM, "app.json"), "utf8")) as { image: string };
    repo.commit({}, "watch v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      logger: process.env.WATCH_DEBUG
        ? pino({ level: "debug" }, pino.destination(2))
        : pino({ level: "silent" }),
      targets: [spec()],
    });
    const first = await reconciler.reconcile("w");
    expect(first.error).toBeUndefined();
    expect(first.result).toBe("applied");
    reconciler.start();
    const inventory = await reconciler.resources("w");
    deploymentUrn = inventory?.resources.find((r) => r.kubernetes?.kind === "Deployment")?.urn as string;
    expect(deploymentUrn).toBeDefined();
  }, 120_000);

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("watches the target's objects on the cluster its provider names", async () => {
    const condition = await untilAsync(
      async () => {
        const c = await watching();
        return c?.status === true ? c : undefined;
      },
      `the Watching condition (${JSON.stringify(await watching())})`,
      30_000,
    );
    expect(condition).toMatchObject({
      reason: "Watching",
      message: expect.stringMatching(/watching \d+ object/),
    });
    const stats = await reconciler.watchStats();
    expect(stats.open).toBeGreaterThanOrEqual(3);
    // The program's Node kept its compiled modules for the next run (NODE_COMPILE_CACHE).
    expect(readdirSync(join(sandbox.dir, "data", "cache", "node-compile", "w")).length).toBeGreaterThan(0);
    // The provider writes the kubeconfig it is given, credentials included, to a new file under
    // TMPDIR each time it starts: the run's own directory, removed with the run.
    const leaked = readdirSync(tmpdir())
      .filter((name) => name.startsWith("kubeconfig"))
      .filter((name) => {
        try {
          return readFileSync(join(tmpdir(), name), "utf8").includes(cluster.server);
        } catch {
          return false; // another test's, removed meanwhile
        }
      });
    expect(leaked).toEqual([]);
    const runTemp = join(sandbox.dir, "data", "tmp");
    expect(existsSync(runTemp) ? readdirSync(runTemp) : []).toEqual([]);
  });

  it("puts a hand-edited image back and recreates a deleted Service in apply mode, refreshing only them", async () => {
    // Two edits at once: one drift check of both.
    await handEdit("ghcr.io/acme/api:hotfix");
    expect((await cluster.api("DELETE", SERVICE)).status).toBe(200);
    const corrected = await nextWatchRun(0, "the watch's drift check");
    expect(corrected.result).toBe("drift-corrected");
    expect(await image()).toBe(app.image);
    expect((await cluster.api("GET", SERVICE)).status).toBe(200);
    const log = await fullLog(corrected.id);
    const scope = log.match(/refresh and preview --target \d+ resource\(s\): (.*)/)?.[1]?.split(" ") ?? [];
    expect(scope).toEqual(
      expect.arrayContaining([deploymentUrn, expect.stringMatching(/kubernetes:core\/v1:Service::api$/)]),
    );
    // Only the changed objects and their WebService: neither the Namespace nor the ConfigMap.
    expect(scope.some((urn) => /Namespace|ConfigMap/.test(urn))).toBe(false);
    // A refresh preview of them found the drift; then one refreshing preview of them and an up of
    // them: no full refresh, no refresh of its own.
    const checked = log.search(/refresh --preview-only --target \d+ resource\(s\)/);
    expect(checked).toBeGreaterThanOrEqual(0);
    expect(log.indexOf("drift in 2 resource(s): planning to put it back")).toBeGreaterThan(checked);
    expect(log).not.toMatch(/\[preview\] refresh and preview$/m);
    expect(log).not.toMatch(/\[refresh\]/);
    const stats = await reconciler.watchStats();
    expect(stats.checks).toBe(1);
    expect(stats.lags).toHaveLength(1);
  });

  it("starts no drift check for the controllers' updates, the target's own corrections and commits", async () => {
    const before = (await watchRuns()).length;
    const { received: receivedBefore } = await reconciler.watchStats();
    app.image = "ghcr.io/acme/api:1.1.0";
    repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, "api 1.1.0");
    const own = await reconciler.reconcile("w", { trigger: "manual" });
    expect(own.result).toBe("applied");
    // The rollout's Pods come and go, ReplicaSets and the Deployment's status move, the
    // deployment controller annotates the new revision, the EndpointSlices follow.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const stats = await reconciler.watchStats();
    expect(stats.received).toBeGreaterThan(receivedBefore);
    expect(stats.ignored).toBeGreaterThan(0);
    expect((await watchRuns()).length).toBe(before);
    // The correction of the previous scenario started none either.
    expect(before).toBe(1);
  });

  it("resumes after the API server restarts and finds an edit made once it is back", async () => {
    const before = (await watchRuns()).length;
    await cluster.restartApiServer(500);
    await handEdit("ghcr.io/acme/api:after-restart");
    const corrected = await nextWatchRun(before, "the drift check after the restart");
    expect(corrected.result).toBe("drift-corrected");
    expect(await image()).toBe(app.image);
    expect((await watching())?.status).toBe(true);
  });

  it("reports a hand edit with its path in detect mode, from a refresh of only the changed object", async () => {
    reconciler.addTarget(spec({ mode: "detect" }));
    expect((await reconciler.reconcile("w", { trigger: "manual" })).result).toBe("unchanged");
    const before = (await watchRuns()).length;
    const lastFull = (await reconciler.status("w")).lastDriftCheckAt;
    expect(lastFull).toBeDefined();
    await handEdit("ghcr.io/acme/api:detected");
    const run = await nextWatchRun(before, "the detect-mode drift check");
    expect(run.result).toBe("drift-detected");
    const status = await reconciler.status("w");
    expect(status.unresolvedDrift?.resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ urn: deploymentUrn, paths: expect.arrayContaining([IMAGE_PATH]) }),
      ]),
    );
    // Not a full drift check: the resync's clock did not move.
    expect(status.lastDriftCheckAt).toBe(lastFull);
    const log = await fullLog(run.id);
    // The refresh's own diff decided it: the program did not run, nothing else was read.
    expect(log).toMatch(/refresh --preview-only --target 2 resource\(s\)/);
    expect(log).not.toMatch(/refresh and preview/);
    expect(log).not.toMatch(/\[refresh\]/);
    expect(await image()).toBe("ghcr.io/acme/api:detected");
  });

  it("finds no drift in a label another tool adds, and keeps what it did not check: drift found before, Git's changes", async () => {
    // A commit detect mode does not apply: Git's change to the ConfigBundle stays pending.
    const program = readFileSync(join(PROGRAM, "index.js"), "utf8");
    const pending = repo.commit({ "index.js": program.replace('LOG_LEVEL: "info"', 'LOG_LEVEL: "debug"') });
    const planned = await reconciler.reconcile("w", { trigger: "manual" });
    expect(planned.result).toBe("drift-detected");
    expect((await reconciler.status("w")).pendingChanges?.revision).toBe(pending);
    const before = (await watchRuns()).length;
    const labelled = await cluster.api(
      "PATCH",
      `${SERVICE}?fieldManager=mesh-injector`,
      { metadata: { labels: { "mesh.example/injected": "true" } } },
      "application/merge-patch+json",
    );
    expect(labelled.status, JSON.stringify(labelled.body)).toBe(200);
    const run = await nextWatchRun(before, "the drift check of the labelled Service");
    const log = await fullLog(run.id);
    expect(log).toMatch(
      /refresh --preview-only --target 2 resource\(s\): .*kubernetes:core\/v1:Service::api/,
    );
    expect(log).toMatch(/drift found before in 1 resource\(s\) not checked/);
    // The Deployment's image is still not what Git says: the check of the Service does not clear it.
    expect(run.result).toBe("drift-detected");
    const drifted = (await reconciler.status("w")).unresolvedDrift?.resources.map((r) => r.urn) ?? [];
    expect(drifted).toEqual([deploymentUrn]);
    const status = await reconciler.status("w");
    expect(status.conditions.find((c) => c.type === "Drifted")?.status).toBe(true);
    expect(status.pendingChanges?.revision).toBe(pending);
    expect(log).toMatch(/changes from Git not yet applied/);
    // Still the drift the full check found: this check found none of its own.
    expect(status.unresolvedDrift?.runId).toBe(planned.id);
  });

  it("starts no drift check of an edit a run's full refresh read", async () => {
    // Detect mode: the run does not write the Deployment back, so only its refresh reads the edit.
    reconciler.addTarget(spec({ mode: "detect" }));
    const before = (await watchRuns()).length;
    const { received, covered, checks } = await reconciler.watchStats();
    await handEdit("ghcr.io/acme/api:read-by-refresh");
    await untilAsync(
      async () => (await reconciler.watchStats()).received > received,
      "the watch to see the edit",
      10_000,
    );
    // The run starts before the watch's window ends: the change waits for it, and its refresh reads it.
    const run = await reconciler.reconcile("w", { trigger: "manual" });
    expect(run.result).toBe("drift-detected");
    expect((await reconciler.status("w")).unresolvedDrift?.runId).toBe(run.id);
    // The watch dropped the change (once the refresh began, or once the run ended) and queued nothing.
    await untilAsync(
      async () => (await reconciler.watchStats()).covered === covered + 1,
      "the watch to drop the change the refresh read",
      10_000,
    );
    expect((await reconciler.watchStats()).checks).toBe(checks);
    expect((await watchRuns()).length).toBe(before);
  });

  it("previews the program instead where the engine's refresh diffs outputs (PULUMI_ENABLE_LEGACY_REFRESH_DIFF)", async () => {
    const target = spec({ mode: "detect" });
    reconciler.addTarget({ ...target, env: { ...target.env, PULUMI_ENABLE_LEGACY_REFRESH_DIFF: "true" } });
    await reconciler.reconcile("w", { trigger: "manual" });
    const before = (await watchRuns()).length;
    await handEdit("ghcr.io/acme/api:legacy-diff");
    const run = await nextWatchRun(before, "the drift check with the legacy refresh diff");
    expect(run.result).toBe("drift-detected");
    const log = await fullLog(run.id);
    expect(log).toMatch(/refresh and preview --target 2 resource\(s\)/);
    expect(log).not.toMatch(/refresh --preview-only/);
  });

  it("closes the watches of a target set to `watch: false` (or `refresh: false`) and leaves drift to resync", async () => {
    // A target that does not refresh would find no drift: it is not watched either.
    reconciler.addTarget(spec({ mode: "detect", refresh: false }));
    await untilAsync(
      async () => /`refresh` is false/.test((await watching())?.message ?? ""),
      "the Disabled condition of a target without refresh",
      10_000,
    );
    await untilAsync(async () => (await reconciler.watchStats()).open === 0, "the watches closed", 10_000);
    reconciler.addTarget(spec({ mode: "detect", watch: false }));
    await untilAsync(async () => (await watching())?.reason === "Disabled", "the Disabled condition", 10_000);
    await untilAsync(async () => (await reconciler.watchStats()).open === 0, "the watches closed", 10_000);
    const before = (await watchRuns()).length;
    await handEdit("ghcr.io/acme/api:unwatched");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await watchRuns()).length).toBe(before);
  });
});
