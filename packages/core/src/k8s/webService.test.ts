import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { ValidationError } from "../errors.js";
import { ConfigBundle } from "./configBundle.js";
import { EnvFrom } from "./envFrom.js";
import { EnvValue } from "./envValue.js";
import { Mount } from "./mount.js";
import { Probe } from "./probe.js";
import { WebService, type WebServiceArgs } from "./webService.js";

const base: WebServiceArgs = { image: "ghcr.io/acme/api:1.2.3" };

describe("WebService", () => {
  it("creates a Deployment, a Service and a PodDisruptionBudget with safe defaults", async () => {
    const { resources, one } = await declare(() => new WebService("api", base));
    expect(resources.map((r) => r.type).sort()).toEqual([
      "driftless:k8s:WebService",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:Service",
      "kubernetes:policy/v1:PodDisruptionBudget",
    ]);
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    expect(deployment.metadata.name).toBe("api");
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "500m", memory: "256Mi" },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.readinessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(container.livenessProbe.initialDelaySeconds).toBe(10);
    expect(container.ports).toEqual([{ name: "http", containerPort: 8080 }]);
    expect(deployment.spec.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "api",
      "app.kubernetes.io/instance": "api",
    });
    expect(deployment.metadata.labels).toMatchObject({
      "app.kubernetes.io/component": "web",
      "app.kubernetes.io/managed-by": "driftless",
    });
    expect(deployment.metadata.annotations).toEqual({ "pulumi.com/patchForce": "true" });
    const service = one("kubernetes:core/v1:Service").inputs;
    expect(service.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http" }]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(one("kubernetes:policy/v1:PodDisruptionBudget").inputs.spec.maxUnavailable).toBe(1);
  });

  it("reports the in-cluster DNS name and no URL without an Ingress", async () => {
    const { result } = await declare(() => new WebService("api", { ...base, namespace: "shop" }));
    expect(await settle(result.dnsName)).toBe("api.shop.svc.cluster.local");
    expect(await settle(result.url)).toBeUndefined();
  });

  it("skips the PodDisruptionBudget for a single replica", async () => {
    const { all } = await declare(() => new WebService("api", { ...base, replicas: 1 }));
    expect(all("kubernetes:policy/v1:PodDisruptionBudget")).toHaveLength(0);
  });

  it("adds an Ingress with TLS and reports its https URL", async () => {
    const { one, result } = await declare(
      () =>
        new WebService("api", {
          ...base,
          ingress: { host: "api.example.com", path: "/v1", tlsSecretName: "api-tls", className: "nginx" },
        }),
    );
    const ingress = one("kubernetes:networking.k8s.io/v1:Ingress").inputs;
    expect(ingress.spec.ingressClassName).toBe("nginx");
    expect(ingress.spec.tls).toEqual([{ hosts: ["api.example.com"], secretName: "api-tls" }]);
    expect(ingress.spec.rules[0].http.paths[0]).toMatchObject({
      path: "/v1",
      backend: { service: { name: "api" } },
    });
    expect(await settle(result.url)).toBe("https://api.example.com/v1");
  });

  it("reports an http URL for an Ingress without TLS", async () => {
    const { result } = await declare(
      () => new WebService("api", { ...base, ingress: { host: "api.example.com" } }),
    );
    expect(await settle(result.url)).toBe("http://api.example.com/");
  });

  it("adds a HorizontalPodAutoscaler and leaves `replicas` to it", async () => {
    const { one } = await declare(
      () => new WebService("api", { ...base, autoscaling: { minReplicas: 3, maxReplicas: 10 } }),
    );
    const hpa = one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs;
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
    expect(hpa.spec.metrics[0].resource.target.averageUtilization).toBe(70);
    // Writing replicas would conflict with the HPA's field manager on the next update.
    expect(one("kubernetes:apps/v1:Deployment").inputs.spec).not.toHaveProperty("replicas");
  });

  it("uses HTTP probes, ports and resources the caller gives", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", {
          ...base,
          port: 3000,
          servicePort: 8080,
          readiness: Probe.http("/ready", undefined, { periodSeconds: 5 }),
          liveness: false,
          resources: { requests: { memory: "1Gi" } },
        }),
    );
    const container = one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: "/ready", port: 3000 });
    expect(container.readinessProbe.periodSeconds).toBe(5);
    expect(container.livenessProbe).toBeUndefined();
    // A defaulted limit never falls below the request.
    expect(container.resources.limits.memory).toBe("1Gi");
    expect(one("kubernetes:core/v1:Service").inputs.spec.ports[0].port).toBe(8080);
  });

  it("lets the caller relax the security defaults field by field", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", {
          ...base,
          securityContext: {
            readOnlyRootFilesystem: false,
            addCapabilities: ["NET_BIND_SERVICE"],
            runAsUser: 1000,
            fsGroup: 2000,
          },
          serviceAccountName: "api",
        }),
    );
    const pod = one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec;
    expect(pod.containers[0].securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      runAsUser: 1000,
    });
    expect(pod.securityContext.fsGroup).toBe(2000);
    expect(pod.serviceAccountName).toBe("api");
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  it("takes env from values, ConfigMaps, Secrets, the downward API and mounts", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", {
          ...base,
          env: {
            MODE: "prod",
            DB_HOST: EnvValue.configMap("db", "host"),
            DB_PASSWORD: EnvValue.secret("db", "password"),
            POD: EnvValue.field("metadata.name"),
          },
          envFrom: [EnvFrom.configMap("common"), EnvFrom.secret("tokens", "TOKEN_")],
          mounts: [
            Mount.emptyDir("/tmp", { memory: true, sizeLimit: "64Mi" }),
            Mount.secret("/certs", "certs"),
          ],
        }),
    );
    const pod = one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec;
    const container = pod.containers[0];
    expect(container.env).toEqual([
      { name: "MODE", value: "prod" },
      { name: "DB_HOST", valueFrom: { configMapKeyRef: { name: "db", key: "host" } } },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
    expect(container.envFrom).toEqual([
      { configMapRef: { name: "common" } },
      { prefix: "TOKEN_", secretRef: { name: "tokens" } },
    ]);
    expect(pod.volumes).toEqual([
      { name: "mount-0", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
      { name: "mount-1", secret: { secretName: "certs" } },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: "mount-0", mountPath: "/tmp", readOnly: false },
      { name: "mount-1", mountPath: "/certs", readOnly: true },
    ]);
  });

  it("rolls the pod template when a consumed ConfigBundle changes", async () => {
    const template = async (value: string) => {
      const { one } = await declare(() => {
        const bundle = new ConfigBundle("settings", { data: { LEVEL: value } });
        const secret = new ConfigBundle("creds", { data: { TOKEN: "t" }, secret: true });
        return new WebService("api", {
          ...base,
          envFrom: [EnvFrom.bundle(bundle)],
          env: { TOKEN: EnvValue.bundle(secret, "TOKEN"), LEVEL: EnvValue.bundle(bundle, "LEVEL") },
          mounts: [Mount.bundle("/etc/settings", bundle)],
        });
      });
      return one("kubernetes:apps/v1:Deployment").inputs.spec.template;
    };
    const before = await template("info");
    const after = await template("debug");
    const container = before.spec.containers[0];
    expect(container.envFrom[0].configMapRef.name).toMatch(/^settings-[0-9a-f]{8}$/);
    expect(container.env[0].valueFrom.secretKeyRef.name).toMatch(/^creds-[0-9a-f]{8}$/);
    expect(container.env[1].valueFrom.configMapKeyRef.name).toBe(container.envFrom[0].configMapRef.name);
    expect(before.spec.volumes[0].configMap.name).toBe(container.envFrom[0].configMapRef.name);
    expect(after.spec.volumes[0].configMap.name).not.toBe(before.spec.volumes[0].configMap.name);
    expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
  });

  it("annotates every object with pulumi.com/skipAwait when skipAwait is set", async () => {
    const { resources } = await declare(
      () =>
        new WebService("api", {
          ...base,
          skipAwait: true,
          ingress: { host: "a.example.com" },
          autoscaling: { minReplicas: 2, maxReplicas: 4 },
        }),
    );
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(objects).toHaveLength(5);
    for (const o of objects)
      expect(o.inputs.metadata.annotations).toEqual({
        "pulumi.com/patchForce": "true",
        "pulumi.com/skipAwait": "true",
      });
  });

  it("adds version, part-of and custom labels", async () => {
    const { one } = await declare(
      () =>
        new WebService("api", { ...base, version: "1.2.3", partOf: "shop", labels: { team: "payments" } }),
    );
    const labels = one("kubernetes:apps/v1:Deployment").inputs.spec.template.metadata.labels;
    expect(labels).toMatchObject({
      team: "payments",
      "app.kubernetes.io/version": "1.2.3",
      "app.kubernetes.io/part-of": "shop",
    });
  });

  const invalid: [string, Partial<WebServiceArgs> & { name?: string }, string][] = [
    ["replicas", { replicas: 0 }, "WebService `api`: `replicas` must be at least 1, got 0"],
    ["replicas", { replicas: 1.5 }, "`replicas` must be an integer, got 1.5"],
    ["port", { port: 70000 }, "`port` must be at most 65535, got 70000"],
    ["servicePort", { servicePort: 0 }, "`servicePort` must be at least 1, got 0"],
    ["image", { image: "" }, '`image` must be a non-empty image reference, got ""'],
    ["image", { image: "nginx 1.2" }, '`image` must not contain whitespace, got "nginx 1.2"'],
    ["name", { name: "API_1" }, "WebService `API_1`: `name` must be a DNS label"],
    [
      "ingress.host",
      { ingress: { host: "not a host" } },
      '`ingress.hosts[0]` must be a DNS host name, got "not a host"',
    ],
    [
      "ingress.path",
      { ingress: { host: "a.example.com", path: "v1" } },
      '`ingress.paths[0].path` must start with `/`, got "v1"',
    ],
    [
      "autoscaling",
      { autoscaling: { minReplicas: 5, maxReplicas: 2 } },
      "`autoscaling.maxReplicas` must be at least `minReplicas` (5), got 2",
    ],
    [
      "autoscaling.cpu",
      { autoscaling: { minReplicas: 1, maxReplicas: 2, cpuUtilization: 0 } },
      "`autoscaling.cpuUtilization` must be at least 1, got 0",
    ],
    [
      "readiness",
      { readiness: Probe.http("healthz") },
      '`readiness.path` must start with `/`, got "healthz"',
    ],
    [
      "liveness",
      { liveness: Probe.tcp(8080, { periodSeconds: 0 }) },
      "`liveness.periodSeconds` must be at least 1, got 0",
    ],
    [
      "resources",
      { resources: { limits: { cpu: "lots" } } },
      '`resources.limits.cpu` must be a positive Kubernetes quantity like `250m` or `256Mi`, got "lots"',
    ],
    [
      "resources",
      { resources: { requests: { cpu: "2" }, limits: { cpu: "1" } } },
      '`resources.requests.cpu` must not exceed the limit 1, got "2"',
    ],
    ["env", { env: { "1BAD": "x" } }, '`env.1BAD` is not a valid environment variable name, got "1BAD"'],
    ["mounts", { mounts: [Mount.emptyDir("tmp")] }, '`mounts[0].path` must be an absolute path, got "tmp"'],
    [
      "mounts",
      { mounts: [Mount.emptyDir("/tmp"), Mount.emptyDir("/tmp")] },
      '`mounts[1].path` is mounted twice, got "/tmp"',
    ],
    [
      "runAsUser",
      { securityContext: { runAsUser: 0 } },
      "`securityContext.runAsUser` is root while `runAsNonRoot` is true",
    ],
    [
      "capabilities",
      { securityContext: { addCapabilities: ["ALL"] } },
      "`securityContext.addCapabilities` must list capability names",
    ],
    [
      "seccomp",
      { securityContext: { seccompProfile: "Weird" as "Unconfined" } },
      '`securityContext.seccompProfile` must be one of "RuntimeDefault", "Unconfined", got "Weird"',
    ],
    ["labels", { labels: { team: "a b" } }, '`labels.team` is not a valid label value, got "a b"'],
    ["version", { version: "-1" }, '`version` is not a valid label value, got "-1"'],
  ];
  it.each(invalid)("rejects a bad `%s` before creating anything", async (_field, patch, message) => {
    const { name = "api", ...rest } = patch;
    const error = await declare(() => new WebService(name, { ...base, ...rest })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain(message);
  });

  it("rejects a bundle key the bundle does not hold", async () => {
    const error = await declare(() => {
      const bundle = new ConfigBundle("settings", { data: { LEVEL: "info" } });
      return new WebService("api", { ...base, env: { X: EnvValue.bundle(bundle, "MISSING") } });
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'WebService `api`: `env.X` names a key the bundle does not hold (LEVEL), got "MISSING"',
    );
  });
});
