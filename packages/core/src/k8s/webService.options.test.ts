import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, rejected, settle } from "../../test/harness.js";
import { ValidationError } from "../errors.js";
import { Mount } from "./mount.js";
import { Namespace } from "./namespace.js";
import { Probe } from "./probe.js";
import { WebService, type WebServiceArgs } from "./webService.js";

const base: WebServiceArgs = { image: "ghcr.io/acme/api:1.2.3" };
const reject = (args: Partial<WebServiceArgs>) =>
  rejected<ValidationError>(declare(() => new WebService("api", { ...base, ...args })));

describe("WebService autoscaling and disruption budget", () => {
  it("accepts a CPU target above 100 % of the request, memory and custom metrics, and behaviour", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", {
          ...base,
          autoscaling: {
            minReplicas: 2,
            maxReplicas: 8,
            cpuUtilization: 150,
            memoryUtilization: 80,
            metrics: [
              {
                type: "Pods",
                pods: { metric: { name: "rps" }, target: { type: "AverageValue", averageValue: "100" } },
              },
            ],
            behavior: { scaleDown: { stabilizationWindowSeconds: 600 } },
          },
        }),
    );
    const spec = one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs.spec;
    expect(
      spec.metrics.map((m: { type: string; resource?: { name: string } }) => m.resource?.name ?? m.type),
    ).toEqual(["cpu", "memory", "Pods"]);
    expect(spec.metrics[0].resource.target.averageUtilization).toBe(150);
    expect(spec.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 600 } });
    expect(one("kubernetes:policy/v1:PodDisruptionBudget").inputs.spec.maxUnavailable).toBe(1);
  });

  it("refuses `replicas` together with `autoscaling` instead of silently ignoring it", async () => {
    const error = await reject({ replicas: 4, autoscaling: { minReplicas: 2, maxReplicas: 5 } });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain("`replicas` must not be set together with `autoscaling`");
  });

  it("creates no budget when the autoscaler may go down to one pod, and one when asked", async () => {
    const scaled = { autoscaling: { minReplicas: 1, maxReplicas: 4 } };
    expect(
      (await declare(() => new WebService("api", { ...base, ...scaled }))).all(
        "kubernetes:policy/v1:PodDisruptionBudget",
      ),
    ).toHaveLength(0);
    const { one } = await declare(
      () => new WebService("api", { ...base, ...scaled, disruptionBudget: { minAvailable: "50%" } }),
    );
    expect(one("kubernetes:policy/v1:PodDisruptionBudget").inputs.spec).toMatchObject({
      minAvailable: "50%",
    });
    const off = await declare(() => new WebService("api", { ...base, disruptionBudget: false }));
    expect(off.all("kubernetes:policy/v1:PodDisruptionBudget")).toHaveLength(0);
  });

  it("reports every problem at once", async () => {
    const error = await reject({
      port: 0,
      autoscaling: { minReplicas: 1, maxReplicas: 2, cpuUtilization: false },
      disruptionBudget: { maxUnavailable: 1, minAvailable: 1 },
    });
    expect(error.problems.map((p) => p.field)).toEqual(["port", "autoscaling", "disruptionBudget"]);
    expect(error.message).toContain("WebService `api`: 3 problems:");
  });
});

describe("WebService exposure", () => {
  it("sets the Service type, extra ports and annotations on objects, pods, Service and Ingress", async () => {
    const { one, result } = await declare(
      () =>
        new WebService("api", {
          ...base,
          serviceType: "LoadBalancer",
          extraPorts: [
            { name: "grpc", port: 9090 },
            { name: "metrics", port: 9100, containerPort: 9000, nodePort: 31000 },
          ],
          annotations: { "acme.io/owner": "shop" },
          podAnnotations: { "prometheus.io/scrape": "true" },
          serviceAnnotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" },
          ingress: {
            hosts: ["api.example.com", "www.example.com"],
            paths: [{ path: "/" }, { path: "/grpc", pathType: "Exact", port: "grpc" }],
            tls: [{ secretName: "api-tls" }],
            className: "nginx",
            annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" },
          },
        }),
    );
    const service = one("kubernetes:core/v1:Service").inputs;
    expect(service.spec.type).toBe("LoadBalancer");
    expect(service.spec.ports).toEqual([
      { name: "http", port: 80, targetPort: "http" },
      { name: "grpc", port: 9090, targetPort: "grpc", protocol: "TCP" },
      { name: "metrics", port: 9100, targetPort: "metrics", protocol: "TCP", nodePort: 31000 },
    ]);
    expect(service.metadata.annotations).toEqual({
      "acme.io/owner": "shop",
      "pulumi.com/patchForce": "true",
      "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    });
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    expect(deployment.metadata.annotations).toEqual({
      "acme.io/owner": "shop",
      "pulumi.com/patchForce": "true",
    });
    expect(deployment.spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true" });
    expect(
      deployment.spec.template.spec.containers[0].ports.map(
        (p: { containerPort: number }) => p.containerPort,
      ),
    ).toEqual([8080, 9090, 9000]);
    const ingress = one("kubernetes:networking.k8s.io/v1:Ingress").inputs;
    expect(ingress.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt");
    expect(ingress.spec.rules).toHaveLength(2);
    expect(ingress.spec.rules[1].http.paths[1]).toEqual({
      path: "/grpc",
      pathType: "Exact",
      backend: { service: { name: "api", port: { name: "grpc" } } },
    });
    expect(ingress.spec.tls).toEqual([
      { hosts: ["api.example.com", "www.example.com"], secretName: "api-tls" },
    ]);
    expect(await settle(result.url)).toBe("https://api.example.com/");
  });

  it.each<[string, Partial<WebServiceArgs>, string]>([
    [
      "host and hosts",
      { ingress: { host: "a.example.com", hosts: ["b.example.com"] } },
      "`ingress.host` must not be set together with `ingress.hosts`",
    ],
    ["no host", { ingress: {} }, "`ingress.hosts` must name at least one host"],
    [
      "unknown path port",
      { ingress: { host: "a.example.com", paths: [{ path: "/", port: "grpc" }] } },
      "`ingress.paths[0].port` must name a Service port (http)",
    ],
    [
      "tls host",
      { ingress: { host: "a.example.com", tls: [{ secretName: "t", hosts: ["b.example.com"] }] } },
      "`ingress.tls[0].hosts` must name hosts of the Ingress",
    ],
    [
      "nodePort on ClusterIP",
      { extraPorts: [{ name: "m", port: 9100, nodePort: 31000 }] },
      "`extraPorts[0].nodePort` needs `serviceType` NodePort or LoadBalancer",
    ],
    [
      "duplicate port",
      { extraPorts: [{ name: "http", port: 81 }] },
      "`extraPorts[0].name` is used by another port",
    ],
    [
      "annotation key",
      { annotations: { "bad key": "x" } },
      "`annotations.bad key` is not a valid annotation key",
    ],
    [
      "strategy",
      { strategy: { type: "RollingUpdate", maxSurge: 0, maxUnavailable: "0%" } },
      "`strategy` must allow a surge or an unavailable pod",
    ],
    [
      "maxSurge",
      { strategy: { type: "RollingUpdate", maxSurge: "lots" } },
      '`strategy.maxSurge` must be a count or a percentage like `25%`, got "lots"',
    ],
    [
      "maxUnavailable",
      { strategy: { type: "RollingUpdate", maxUnavailable: -1 } },
      "`strategy.maxUnavailable` must be at least 0, got -1",
    ],
    [
      "disruption budget",
      { disruptionBudget: { maxUnavailable: "150%" } },
      '`disruptionBudget.maxUnavailable` must be a count or a percentage like `50%`, got "150%"',
    ],
    [
      "progressDeadlineSeconds",
      { minReadySeconds: 60, progressDeadlineSeconds: 30 },
      "`progressDeadlineSeconds` must exceed `minReadySeconds` (60), got 30",
    ],
    ["preStop", { preStop: [] }, "`preStop` must hold a command"],
    ["startup", { startup: Probe.exec([]) }, "`startup.command` must hold a command"],
    [
      "tolerations",
      { tolerations: [{ key: "k", operator: "Maybe" }] },
      '`tolerations[0].operator` must be one of "Exists", "Equal", got "Maybe"',
    ],
    [
      "nodeSelector",
      { nodeSelector: { pool: "a b" } },
      '`nodeSelector.pool` is not a valid label value, got "a b"',
    ],
  ])("rejects %s", async (_case, args, message) => {
    const error = await reject(args);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain(message);
  });
});

describe("WebService scheduling, lifecycle and rollout", () => {
  it("spreads pods across zones by default when more than one runs", async () => {
    const spread = (await declare(() => new WebService("api", base))).one("kubernetes:apps/v1:Deployment")
      .inputs.spec.template.spec.topologySpreadConstraints;
    expect(spread).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: {
          matchLabels: { "app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "api" },
        },
      },
    ]);
    const single = (await declare(() => new WebService("api", { ...base, replicas: 1 }))).one(
      "kubernetes:apps/v1:Deployment",
    ).inputs.spec.template.spec;
    expect(single.topologySpreadConstraints).toBeUndefined();
    const required = (
      await declare(() => new WebService("api", { ...base, replicas: 1, zoneSpread: "required" }))
    ).one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec.topologySpreadConstraints;
    expect(required[0].whenUnsatisfiable).toBe("DoNotSchedule");
  });

  it("passes scheduling, probes, the preStop hook, the grace period and rollout controls through", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", {
          ...base,
          zoneSpread: false,
          nodeSelector: { "kubernetes.io/arch": "arm64" },
          tolerations: [{ key: "dedicated", operator: "Equal", value: "web", effect: "NoSchedule" }],
          affinity: { nodeAffinity: {} },
          startup: Probe.http("/started", undefined, { failureThreshold: 30 }),
          liveness: Probe.exec(["/bin/check"]),
          preStop: ["sleep", "5"],
          terminationGracePeriodSeconds: 45,
          strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
          minReadySeconds: 5,
          progressDeadlineSeconds: 300,
          revisionHistoryLimit: 3,
          mounts: [Mount.persistentVolumeClaim("/data", "api-data")],
        }),
    );
    const spec = one("kubernetes:apps/v1:Deployment").inputs.spec;
    expect(spec).toMatchObject({
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      minReadySeconds: 5,
      progressDeadlineSeconds: 300,
      revisionHistoryLimit: 3,
    });
    const pod = spec.template.spec;
    expect(pod.topologySpreadConstraints).toBeUndefined();
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/arch": "arm64" });
    expect(pod.tolerations[0].value).toBe("web");
    expect(pod.affinity).toEqual({ nodeAffinity: {} });
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    expect(pod.volumes).toEqual([
      { name: "mount-0", persistentVolumeClaim: { claimName: "api-data", readOnly: false } },
    ]);
    const container = pod.containers[0];
    expect(container.startupProbe.httpGet).toEqual({ path: "/started", port: 8080 });
    expect(container.startupProbe.failureThreshold).toBe(30);
    expect(container.livenessProbe.exec).toEqual({ command: ["/bin/check"] });
    expect(container.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "5"] } } });
    expect(container.volumeMounts).toEqual([{ name: "mount-0", mountPath: "/data", readOnly: false }]);
  });

  it("uses the Recreate strategy when asked", async () => {
    const { one } = await declare(() => new WebService("api", { ...base, strategy: { type: "Recreate" } }));
    expect(one("kubernetes:apps/v1:Deployment").inputs.spec.strategy).toEqual({ type: "Recreate" });
  });

  it("accepts a Namespace and a ServiceAccount object, and is created after them", async () => {
    let dependsOn: unknown;
    const { one, result } = await declare(() => {
      pulumi.runtime.registerStackTransformation(({ type, opts }) => {
        if (type === "kubernetes:apps/v1:Deployment") dependsOn = opts.dependsOn;
        return undefined;
      });
      const ns = new Namespace("shop", { quota: false });
      const sa = new k8s.core.v1.ServiceAccount("api", { metadata: { name: "api-sa", namespace: "shop" } });
      return { ns, sa, web: new WebService("api", { ...base, namespace: ns, serviceAccountName: sa }) };
    });
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    expect(deployment.metadata.namespace).toBe("shop");
    expect(deployment.spec.template.spec.serviceAccountName).toBe("api-sa");
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(true);
    // The Namespace component (with its LimitRange and policies) and the account come first.
    expect(dependsOn).toEqual([result.ns, result.sa]);
    expect(one("kubernetes:core/v1:Service").inputs.metadata.namespace).toBe("shop");
  });
});
