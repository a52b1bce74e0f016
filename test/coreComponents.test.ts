// The newer Kubernetes components of @driftless/core on a real kube-apiserver
// (the lifelike local cluster), reconciled by the real Reconciler: what the API server
// accepts and stores, and that an autoscaled WebService leaves the replica
// count to the autoscaler, so an update after a scale-out does not conflict.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { clusterTarget } from "./support/clusterTarget.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-components/", import.meta.url));
const NS = "apps";

describe("@driftless/core Kubernetes components on a real API server", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let kc: KubeConfig;

  beforeAll(async () => {
    cluster = await startCluster();
    sandbox = engineSandbox("driftless-core-k8s-e2e-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: PROGRAM });
    repo.commit({}, "components v1");
    kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    const spec: TargetSpec = clusterTarget("components", { repo, cluster, sandbox });
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      targets: [spec],
    });
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("creates every object, as the API server validates and stores it", async () => {
    const run = await reconciler.reconcile("components");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");

    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const api = await apps.readNamespacedDeployment({ name: "api", namespace: NS });
    // Without `replicas` in the manifest the API server defaults it to 1; the HPA owns it from there.
    expect(api.spec?.replicas).toBe(1);
    const pod = api.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe("api");
    expect(pod?.imagePullSecrets).toEqual([{ name: "registry" }]);
    expect(pod?.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([["proxy", "Always"]]);
    expect(pod?.containers[0]?.lifecycle?.preStop?.exec?.command).toEqual(["sleep", "5"]);
    expect(pod?.containers[0]?.startupProbe?.exec?.command).toEqual(["/bin/started"]);
    expect(pod?.topologySpreadConstraints?.[0]?.topologyKey).toBe("topology.kubernetes.io/zone");
    expect(api.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });

    const account = await core.readNamespacedServiceAccount({ name: "api", namespace: NS });
    expect(account.metadata?.annotations?.["eks.amazonaws.com/role-arn"]).toBe("arn:aws:iam::1:role/api");
    expect((await core.readNamespacedSecret({ name: "registry", namespace: NS })).type).toBe(
      "kubernetes.io/dockerconfigjson",
    );
    const service = await core.readNamespacedService({ name: "api", namespace: NS });
    expect(service.spec?.ports?.map((p) => p.name)).toEqual(["http", "grpc"]);

    const hpa = await kc
      .makeApiClient(AutoscalingV2Api)
      .readNamespacedHorizontalPodAutoscaler({ name: "api", namespace: NS });
    expect(hpa.spec?.metrics?.map((m) => m.resource?.name)).toEqual(["cpu", "memory"]);
    const ingress = await kc
      .makeApiClient(NetworkingV1Api)
      .readNamespacedIngress({ name: "api", namespace: NS });
    expect(ingress.metadata?.annotations?.["cert-manager.io/cluster-issuer"]).toBe("letsencrypt");
    expect(ingress.spec?.rules?.map((r) => r.host)).toEqual(["api.example.com", "www.example.com"]);
    expect(ingress.spec?.tls).toEqual([
      { hosts: ["api.example.com", "www.example.com"], secretName: "api-tls" },
    ]);

    const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "migrate", namespace: NS });
    expect(job.spec?.backoffLimit).toBe(0);
    const queue = await apps.readNamespacedStatefulSet({ name: "queue", namespace: NS });
    expect(queue.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage).toBe("1Gi");
    expect((await core.readNamespacedService({ name: "queue", namespace: NS })).spec?.clusterIP).toBe("None");
    const binding = await kc
      .makeApiClient(RbacAuthorizationV1Api)
      .readNamespacedRoleBinding({ name: "read-config", namespace: NS });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "api", namespace: NS }]);
  });

  it("updates an autoscaled WebService after the autoscaler scaled it, without touching the count", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    // What the HPA does: set the scale subresource under its own field manager.
    const scale = await apps.readNamespacedDeploymentScale({ name: "api", namespace: NS });
    await apps.replaceNamespacedDeploymentScale({
      name: "api",
      namespace: NS,
      body: { ...scale, spec: { replicas: 5 } },
      fieldManager: "horizontal-pod-autoscaler",
    });
    const commit = repo.commit(
      { "app.json": `${JSON.stringify({ image: "ghcr.io/acme/api:1.1.0" })}\n` },
      "v1.1.0",
    );
    const run = await reconciler.reconcile("components", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    // The autoscaler moved spec.replicas, which the component does not declare:
    // the commit's image change is Git, not drift.
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(commit);
    const api = await apps.readNamespacedDeployment({ name: "api", namespace: NS });
    expect(api.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/api:1.1.0");
    expect(api.spec?.replicas).toBe(5);
  });
});
