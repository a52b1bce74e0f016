// GitOps for Kubernetes end to end: a Pulumi program built from
// @driftless/core in a Git repository, reconciled by the real Reconciler onto
// a real kube-apiserver (with etcd, no nodes), edited out of band the way a
// person with kubectl would.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-program/", import.meta.url));
const NS = "shop";

interface AppSpec {
  namespace: string;
  manageNamespace: boolean;
  services: Record<string, { image: string; replicas: number; settings?: Record<string, string> }>;
}

// scripts/bootstrap-k8s.sh (run by `make test`) builds the control plane; a
// missing part fails the suite with startCluster's message instead of skipping.
describe("GitOps for Kubernetes on a real API server", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let app: AppSpec;
  let first: string;

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name: "shop",
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { kubeconfig: cluster.kubeconfigPath },
    // PATH: the engine finds the provider plugin there, offline.
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH, PATH: cluster.path },
    interval: "1h",
    resync: "1h",
    ...overrides,
  });

  /** Commits a change to app.json and returns the new SHA. */
  const change = (edit: (a: AppSpec) => void, message: string) => {
    edit(app);
    return repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, message);
  };
  const push = () => reconciler.reconcile("shop", { trigger: "webhook", force: false });
  const deployment = (name: string) => apps.readNamespacedDeployment({ name, namespace: NS });
  const status = async (read: () => Promise<unknown>) => {
    try {
      await read();
      return 200;
    } catch (error) {
      return (error as { code?: number }).code ?? 0;
    }
  };
  /** The out-of-band edit: read, change, replace — what `kubectl edit` amounts to. */
  const editByHand = async (name: string, edit: (d: V1Deployment) => void) => {
    const live = await deployment(name);
    edit(live);
    await apps.replaceNamespacedDeployment({ name, namespace: NS, body: live });
  };

  beforeAll(async () => {
    cluster = await startCluster();
    sandbox = engineSandbox("driftless-k8s-e2e-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: PROGRAM });
    app = JSON.parse(readFileSync(join(PROGRAM, "app.json"), "utf8")) as AppSpec;
    first = repo.commit({}, "shop v1");
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      targets: [spec()],
    });
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("creates the objects of the first commit, labelled with that commit", async () => {
    const run = await reconciler.reconcile("shop");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(first);

    const ns = await core.readNamespace({ name: NS });
    expect(ns.metadata?.labels?.["driftless.dev/commit"]).toBe(first);
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const quota = await core.readNamespacedResourceQuota({ name: "quota", namespace: NS });
    expect(quota.spec?.hard?.["requests.cpu"]).toBe("4");

    const api = await deployment("api");
    expect(api.metadata?.labels?.["driftless.dev/commit"]).toBe(first);
    expect(api.metadata?.annotations?.["pulumi.com/skipAwait"]).toBe("true");
    expect(api.spec?.replicas).toBe(2);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.0.0");
    expect(api.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect((await core.readNamespacedService({ name: "api", namespace: NS })).spec?.ports?.[0]?.port).toBe(
      80,
    );
    const bundles = await core.listNamespacedConfigMap({
      namespace: NS,
      labelSelector: "app.kubernetes.io/name=api-settings",
    });
    expect(bundles.items.map((c) => c.immutable)).toEqual([true]);
    expect((await deployment("worker")).spec?.replicas).toBe(1);
  });

  it("finds nothing to do when the cluster matches the commit", async () => {
    const run = await reconciler.reconcile("shop", { trigger: "manual" });
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("unchanged");
  });

  it("updates the Deployment when a commit changes replicas and image", async () => {
    const second = change((a) => {
      a.services.api = { ...a.services.api!, image: "ghcr.io/acme/api:1.1.0", replicas: 3 };
    }, "api 1.1.0, three replicas");
    const run = await push();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    const api = await deployment("api");
    expect(api.spec?.replicas).toBe(3);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.1.0");
    expect(api.metadata?.labels?.["driftless.dev/commit"]).toBe(second);
  });

  it("corrects an out-of-band edit in apply mode", async () => {
    await editByHand("api", (d) => {
      d.spec!.replicas = 5;
      d.spec!.template.spec!.containers[0]!.image = "ghcr.io/acme/api:hotfix";
    });
    const run = await reconciler.reconcile("shop", { trigger: "manual" });
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-corrected");
    expect(run.drift).toBe(true);
    const api = await deployment("api");
    expect(api.spec?.replicas).toBe(3);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.1.0");
  });

  it("only reports an out-of-band edit in detect mode", async () => {
    reconciler.addTarget(spec({ mode: "detect" }));
    await editByHand("api", (d) => {
      d.spec!.replicas = 7;
    });
    const run = await reconciler.reconcile("shop", { trigger: "manual" });
    expect(run.result).toBe("drift-detected");
    expect((await deployment("api")).spec?.replicas).toBe(7);
    expect(reconciler.status("shop").conditions.find((c) => c.type === "Drifted")?.status).toBe(true);

    reconciler.addTarget(spec());
    expect((await reconciler.reconcile("shop", { trigger: "manual" })).result).toBe("drift-corrected");
    expect((await deployment("api")).spec?.replicas).toBe(3);
  });

  it("rolls the Deployment when the ConfigBundle content changes", async () => {
    const refOf = (d: V1Deployment) => d.spec?.template.spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name;
    const before = refOf(await deployment("api"));
    expect(before).toMatch(/^api-settings-[0-9a-f]{8}$/);
    change((a) => {
      a.services.api!.settings = { LOG_LEVEL: "debug" };
    }, "api logs at debug");
    const run = await push();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    const after = refOf(await deployment("api"));
    expect(after).toMatch(/^api-settings-[0-9a-f]{8}$/);
    expect(after).not.toBe(before);
    const bundle = await core.readNamespacedConfigMap({ name: after!, namespace: NS });
    expect(bundle.data).toEqual({ LOG_LEVEL: "debug" });
    // The old bundle was replaced, not left behind.
    expect(await status(() => core.readNamespacedConfigMap({ name: before!, namespace: NS }))).toBe(404);
  });

  it("prunes the objects of a component removed from Git", async () => {
    change((a) => {
      delete a.services.worker;
    }, "retire the worker");
    const run = await push();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(await status(() => deployment("worker"))).toBe(404);
    expect(await status(() => core.readNamespacedService({ name: "worker", namespace: NS }))).toBe(404);
    expect(await status(() => deployment("api"))).toBe(200);
  });

  it("refuses a commit that would delete the Namespace and deletes nothing", async () => {
    const applied = reconciler.status("shop").lastAppliedRevision;
    const risky = change((a) => {
      a.manageNamespace = false;
    }, "stop managing the namespace");
    const run = await push();
    expect(run.result).toBe("stalled");
    expect(run.error).toMatch(/kubernetes:core\/v1:Namespace/);
    expect(reconciler.status("shop").stalledRevision).toBe(risky);
    expect(reconciler.status("shop").lastAppliedRevision).toBe(applied);

    const ns = await core.readNamespace({ name: NS });
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(await status(() => core.readNamespacedResourceQuota({ name: "quota", namespace: NS }))).toBe(200);
    expect(await status(() => core.readNamespacedLimitRange({ name: "limits", namespace: NS }))).toBe(200);
    expect(await status(() => deployment("api"))).toBe(200);
  });
});
