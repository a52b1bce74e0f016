// GitOps for Kubernetes end to end: a Pulumi program built from
// @driftless/core in a Git repository, reconciled by the real Reconciler
// through upstream's Pulumi Kubernetes provider onto a lifelike cluster (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and a kwok-simulated
// Node: Deployments roll out and Pods become Ready, no container runs), edited
// out of band the way a person with kubectl, or another controller, would.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type RunRecord, type TargetSpec } from "@driftless/gitops";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1Deployment,
  type V1ReplicaSet,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { NEVER_READY_MARKER, NODE_NAME, startCluster, type TestCluster } from "./support/cluster.js";
import { clusterTarget } from "./support/clusterTarget.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-program/", import.meta.url));
const NS = "shop";
const COMMIT_LABEL = "driftless.dev/commit";

interface AppSpec {
  namespace: string;
  manageNamespace: boolean;
  rolloutTimeoutSeconds: number;
  services: Record<
    string,
    { image: string; replicas: number; settings?: Record<string, string>; labels?: Record<string, string> }
  >;
}

/** A Kubernetes object as the API returns it, as far as these tests look. */
interface KubeObject {
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
}

/** Polls (async) until `check` returns something other than `undefined` or `false`. */
async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// scripts/bootstrap-k8s.sh (run by `make test`) builds the cluster and the
// provider; a missing part fails the suite with startCluster's message
// (naming the command that builds it) instead of skipping.
describe("GitOps for Kubernetes: upstream provider, lifelike cluster", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;
  let app: AppSpec;
  let first: string;

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec =>
    clusterTarget("shop", { repo, cluster, sandbox }, overrides);

  /** Commits a change to app.json and returns the new SHA. */
  const change = (edit: (a: AppSpec) => void, message: string) => {
    edit(app);
    return repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, message);
  };
  const push = () => reconciler.reconcile("shop", { trigger: "webhook", force: false });
  const manual = () => reconciler.reconcile("shop", { trigger: "manual" });
  /**
   * A commit's run applied `revision`, and reads `applied`: refresh finds the
   * controllers moved each Deployment's status after its rollout, and the
   * commit relabels every object with its SHA, but a step counts as drift
   * only when it changes a property refresh found changed.
   */
  const expectApplied = async (run: RunRecord, revision: string) => {
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(revision);
    expect((await reconciler.status("shop")).lastAppliedRevision).toBe(revision);
  };
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
    await apps.replaceNamespacedDeployment({ name, namespace: NS, body: live, fieldManager: "kubectl-edit" });
  };
  /** The ReplicaSets of a Deployment, with the image of their pod template. */
  const replicaSets = async (name: string) => {
    const list = await apps.listNamespacedReplicaSet({
      namespace: NS,
      labelSelector: `app.kubernetes.io/name=${name}`,
    });
    return list.items.map((rs: V1ReplicaSet) => ({
      name: rs.metadata?.name ?? "",
      image: rs.spec?.template?.spec?.containers[0]?.image,
      replicas: rs.spec?.replicas ?? 0,
      ready: rs.status?.readyReplicas ?? 0,
    }));
  };
  /** Pods of a workload: image, node, phase and readiness. */
  const pods = async (name: string) => {
    const list = await core.listNamespacedPod({
      namespace: NS,
      labelSelector: `app.kubernetes.io/name=${name}`,
    });
    return list.items
      .filter((p) => p.metadata?.deletionTimestamp === undefined)
      .map((p) => ({
        image: p.spec?.containers[0]?.image,
        node: p.spec?.nodeName,
        phase: p.status?.phase,
        ready: p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True",
      }));
  };
  /** Rolled out: every replica updated, available and Ready, for the current generation. */
  const rolledOut = (d: V1Deployment, replicas: number) => {
    expect(d.status?.observedGeneration).toBe(d.metadata?.generation);
    expect(d.status?.updatedReplicas).toBe(replicas);
    expect(d.status?.readyReplicas).toBe(replicas);
    expect(d.status?.availableReplicas).toBe(replicas);
    expect(d.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("True");
  };
  /** Ready addresses behind a Service, from its EndpointSlices. */
  const readyEndpoints = async (service: string) => {
    const slices = await discovery.listNamespacedEndpointSlice({
      namespace: NS,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    return slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready === true));
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
    discovery = kc.makeApiClient(DiscoveryV1Api);
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

  it("rolls out the first commit: the up returns once the Deployment is Ready", async () => {
    const run = await reconciler.reconcile("shop");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(first);

    const ns = await core.readNamespace({ name: NS });
    expect(ns.metadata?.labels?.[COMMIT_LABEL]).toBe(first);
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const quota = await core.readNamespacedResourceQuota({ name: "quota", namespace: NS });
    expect(quota.spec?.hard?.["requests.cpu"]).toBe("4");

    // Read right after the run, without waiting: the provider's await held the
    // up until the controllers had rolled the Deployment out.
    const api = await deployment("api");
    expect(api.metadata?.labels?.[COMMIT_LABEL]).toBe(first);
    expect(api.metadata?.annotations?.["pulumi.com/skipAwait"]).toBeUndefined();
    expect(api.spec?.replicas).toBe(2);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.0.0");
    expect(api.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    rolledOut(api, 2);
    expect(await pods("api")).toEqual([
      { image: "ghcr.io/acme/api:1.0.0", node: NODE_NAME, phase: "Running", ready: true },
      { image: "ghcr.io/acme/api:1.0.0", node: NODE_NAME, phase: "Running", ready: true },
    ]);
    expect((await core.readNamespacedService({ name: "api", namespace: NS })).spec?.ports?.[0]?.port).toBe(
      80,
    );
    expect(await readyEndpoints("api")).toHaveLength(2);
    const bundles = await core.listNamespacedConfigMap({
      namespace: NS,
      labelSelector: "app.kubernetes.io/name=api-settings",
    });
    expect(bundles.items.map((c) => c.immutable)).toEqual([true]);
    rolledOut(await deployment("worker"), 1);
  });

  it("finds nothing to do when the cluster matches the commit", async () => {
    const run = await manual();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("unchanged");
  });

  it("rolls out a new image and replica count from a commit", async () => {
    const second = change((a) => {
      a.services.api = { ...a.services.api!, image: "ghcr.io/acme/api:1.1.0", replicas: 3 };
    }, "api 1.1.0, three replicas");
    const run = await push();
    expect(run.error).toBeUndefined();
    await expectApplied(run, second);
    const api = await deployment("api");
    expect(api.metadata?.labels?.[COMMIT_LABEL]).toBe(second);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.1.0");
    rolledOut(api, 3);
    const sets = await replicaSets("api");
    expect(sets.find((s) => s.image === "ghcr.io/acme/api:1.1.0")).toMatchObject({ replicas: 3, ready: 3 });
    expect(sets.find((s) => s.image === "ghcr.io/acme/api:1.0.0")).toMatchObject({ replicas: 0 });
    expect((await pods("api")).map((p) => [p.image, p.ready])).toEqual(
      Array(3).fill(["ghcr.io/acme/api:1.1.0", true]),
    );
  });

  it("corrects hand edits of replicas, image and a label in apply mode", async () => {
    await editByHand("api", (d) => {
      d.spec!.replicas = 5;
      d.spec!.template.spec!.containers[0]!.image = "ghcr.io/acme/api:hotfix";
      d.metadata!.labels!["app.kubernetes.io/component"] = "edited";
    });
    // The controllers act on the edit: the hotfix rolls out.
    await waitFor(async () => {
      const d = await deployment("api");
      return d.status?.updatedReplicas === 5 && d.status.readyReplicas === 5;
    }, "the hand-edited Deployment to roll out");
    const run = await manual();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-corrected");
    expect(run.drift).toBe(true);
    const api = await deployment("api");
    expect(api.spec?.replicas).toBe(3);
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.1.0");
    expect(api.metadata?.labels?.["app.kubernetes.io/component"]).toBe("web");
    // … and rolled back out before the up returned.
    rolledOut(api, 3);
  });

  it("only reports hand edits in detect mode", async () => {
    reconciler.addTarget(spec({ mode: "detect" }));
    // The scenarios after this one apply, whatever fails here.
    onTestFinished(() => {
      reconciler.addTarget(spec());
    });
    await editByHand("api", (d) => {
      d.spec!.replicas = 7;
      d.metadata!.labels!["app.kubernetes.io/component"] = "edited";
    });
    const run = await manual();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-detected");
    const api = await deployment("api");
    expect(api.spec?.replicas).toBe(7);
    expect(api.metadata?.labels?.["app.kubernetes.io/component"]).toBe("edited");
    expect((await reconciler.status("shop")).conditions.find((c) => c.type === "Drifted")?.status).toBe(true);

    reconciler.addTarget(spec());
    expect((await manual()).result).toBe("drift-corrected");
    const corrected = await deployment("api");
    expect(corrected.spec?.replicas).toBe(3);
    expect(corrected.metadata?.labels?.["app.kubernetes.io/component"]).toBe("web");
  });

  it("takes back the fields it declares from a second field manager and leaves it the rest", async () => {
    // Another tool applies with server-side apply under its own field manager,
    // forcing ownership of spec.replicas, and adds a label of its own.
    const { status: applied, body } = await cluster.api(
      "PATCH",
      `/apis/apps/v1/namespaces/${NS}/deployments/api?fieldManager=other-tool&force=true`,
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "api", namespace: NS, labels: { "example.com/owner": "other-tool" } },
        spec: { replicas: 4 },
      },
      "application/apply-patch+yaml",
    );
    expect(applied, JSON.stringify(body)).toBe(200);
    const managers = (d: V1Deployment) => (d.metadata?.managedFields ?? []).map((m) => m.manager);
    expect(managers(await deployment("api"))).toContain("other-tool");

    const run = await manual();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-corrected");
    const api = await deployment("api");
    expect(api.spec?.replicas).toBe(3);
    // What the program does not declare stays with its manager.
    expect(api.metadata?.labels?.["example.com/owner"]).toBe("other-tool");
    // spec.replicas is the provider's again (its manager is `pulumi-kubernetes-<id>`).
    const replicasOwners = (api.metadata?.managedFields ?? [])
      .filter((m) => (m.fieldsV1 as { "f:spec"?: { "f:replicas"?: unknown } })?.["f:spec"]?.["f:replicas"])
      .map((m) => m.manager);
    expect(replicasOwners).toHaveLength(1);
    expect(replicasOwners[0]).toMatch(/^pulumi-kubernetes/);
    // Nothing left to correct.
    expect((await manual()).result).toBe("unchanged");
  });

  it("rolls the Pods when the ConfigBundle content changes", async () => {
    const refOf = (d: V1Deployment) => d.spec?.template.spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name;
    const before = refOf(await deployment("api"));
    expect(before).toMatch(/^api-settings-[0-9a-f]{8}$/);
    const third = change((a) => {
      a.services.api!.settings = { LOG_LEVEL: "debug" };
    }, "api logs at debug");
    const run = await push();
    expect(run.error).toBeUndefined();
    await expectApplied(run, third);
    const api = await deployment("api");
    const after = refOf(api);
    expect(after).toMatch(/^api-settings-[0-9a-f]{8}$/);
    expect(after).not.toBe(before);
    rolledOut(api, 3);
    // New Pods, from a new ReplicaSet reading the new bundle; the old set is scaled down.
    const list = await apps.listNamespacedReplicaSet({
      namespace: NS,
      labelSelector: "app.kubernetes.io/name=api",
    });
    const byRef = (name: string | undefined) =>
      list.items.filter(
        (rs) => rs.spec?.template?.spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name === name,
      );
    expect(byRef(after).map((rs) => rs.status?.readyReplicas)).toEqual([3]);
    expect(byRef(before).length).toBeGreaterThan(0);
    expect(byRef(before).every((rs) => rs.spec?.replicas === 0)).toBe(true);
    const bundle = await core.readNamespacedConfigMap({ name: after!, namespace: NS });
    expect(bundle.data).toEqual({ LOG_LEVEL: "debug" });
    // The old bundle was replaced, not left behind.
    expect(await status(() => core.readNamespacedConfigMap({ name: before!, namespace: NS }))).toBe(404);
  });

  it("fails a rollout that never becomes Ready with the provider's verdict, to be retried, and keeps the old Pods serving", async () => {
    const applied = (await reconciler.status("shop")).lastAppliedRevision;
    const good = (await deployment("api")).spec?.template.spec?.containers[0]?.image;
    const broken = `ghcr.io/acme/api:1.2.0-${NEVER_READY_MARKER}`;
    const bad = change((a) => {
      a.rolloutTimeoutSeconds = 4;
      a.services.api!.image = broken;
    }, "api 1.2.0 (never becomes ready)");

    // The provider waits for the rollout and gives up after its timeout (4 s
    // here: the new Pods run within a second and never become Ready, so a
    // longer wait proves nothing more), well within the target's (5 min): the
    // run ends with its verdict, not cancelled. A failed provider call is
    // retryable: the run is `failed`, not stalled, and a retry is scheduled
    // with backoff.
    const providerVerdict = /failed to fully initialize or become live: 'api' timed out waiting to be Ready/;
    const run = await push();
    expect(run.result).toBe("failed");
    expect(run.revision).toBe(bad);
    expect(run.error).toMatch(providerVerdict);
    expect((await reconciler.status("shop")).stalledRevision).toBeUndefined();
    expect((await reconciler.status("shop")).lastAppliedRevision).toBe(applied);
    expect(
      (await reconciler.status("shop")).conditions.find((c) => c.type === "Stalled")?.status ?? false,
    ).toBe(false);

    // The Deployment was updated; its new Pods run unready, and the old
    // ReplicaSet still serves every replica behind the Service.
    const api = await deployment("api");
    expect(api.spec?.template.spec?.containers[0]?.image).toBe(broken);
    expect(api.status?.availableReplicas).toBe(3);
    const sets = await replicaSets("api");
    expect(sets.find((s) => s.image === good)).toMatchObject({ replicas: 3, ready: 3 });
    expect(sets.find((s) => s.image === broken)?.ready).toBe(0);
    const current = await pods("api");
    expect(current.filter((p) => p.image === broken).map((p) => [p.phase, p.ready])).toContainEqual([
      "Running",
      false,
    ]);
    expect(current.filter((p) => p.image === good && p.ready)).toHaveLength(3);
    expect(await readyEndpoints("api")).toHaveLength(3);

    // A retry waits for the rollout again (the engine recorded the failed
    // update), rather than taking the updated object for done.
    const retry = await manual();
    expect(retry.result).toBe("failed");
    expect(retry.error).toMatch(providerVerdict);

    // A fixing commit rolls out and is applied.
    const fix = change((a) => {
      a.rolloutTimeoutSeconds = 30;
      a.services.api!.image = good!;
    }, "back to the good image");
    const fixed = await push();
    expect(fixed.error).toBeUndefined();
    await expectApplied(fixed, fix);
    rolledOut(await deployment("api"), 3);
    expect((await replicaSets("api")).find((s) => s.image === broken)?.replicas).toBe(0);
  });

  it("labels every object it manages with the commit it came from", async () => {
    // The commit the program last ran as: a fix that restored the applied tree is applied at its own
    // SHA, but the program keeps running as the commit that tree was applied from (no relabelling).
    const status = await reconciler.status("shop");
    const head = status.programRevision ?? status.lastAppliedRevision;
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    const kinds = [
      "/api/v1/namespaces/shop/configmaps",
      "/api/v1/namespaces/shop/services",
      "/api/v1/namespaces/shop/resourcequotas",
      "/api/v1/namespaces/shop/limitranges",
      "/apis/apps/v1/namespaces/shop/deployments",
      "/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
      "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
    ];
    const managed: KubeObject[] = [(await cluster.api<KubeObject>("GET", `/api/v1/namespaces/${NS}`)).body];
    for (const path of kinds) {
      const { body } = await cluster.api<{ items: KubeObject[] }>("GET", path);
      // Objects of the cluster's own (the root CA bundle) are not the program's.
      managed.push(...body.items.filter((o) => o.metadata.name !== "kube-root-ca.crt"));
    }
    expect(managed.length).toBeGreaterThanOrEqual(10);
    for (const o of managed) {
      expect({ name: o.metadata.name, commit: o.metadata.labels?.[COMMIT_LABEL] }).toEqual({
        name: o.metadata.name,
        commit: head,
      });
    }
  });

  it("prunes the objects of a component removed from Git", async () => {
    const retired = change((a) => {
      delete a.services.worker;
    }, "retire the worker");
    const run = await push();
    expect(run.error).toBeUndefined();
    await expectApplied(run, retired);
    expect(await status(() => deployment("worker"))).toBe(404);
    expect(await status(() => core.readNamespacedService({ name: "worker", namespace: NS }))).toBe(404);
    // The garbage collector takes its ReplicaSet and Pods along.
    await waitFor(
      async () => (await pods("worker")).length === 0 && (await replicaSets("worker")).length === 0,
      "the worker's ReplicaSet and Pods to be collected",
    );
    expect(await status(() => deployment("api"))).toBe(200);
  });

  it("refuses a commit that would delete the Namespace and deletes nothing", async () => {
    const applied = (await reconciler.status("shop")).lastAppliedRevision;
    const risky = change((a) => {
      a.manageNamespace = false;
    }, "stop managing the namespace");
    const run = await push();
    expect(run.result).toBe("stalled");
    expect(run.error).toMatch(/kubernetes:core\/v1:Namespace/);
    expect((await reconciler.status("shop")).stalledRevision).toBe(risky);
    expect((await reconciler.status("shop")).lastAppliedRevision).toBe(applied);

    const ns = await core.readNamespace({ name: NS });
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(await status(() => core.readNamespacedResourceQuota({ name: "quota", namespace: NS }))).toBe(200);
    expect(await status(() => core.readNamespacedLimitRange({ name: "limits", namespace: NS }))).toBe(200);
    rolledOut(await deployment("api"), 3);
  });
});
