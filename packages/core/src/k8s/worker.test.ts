import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { Probe } from "./probe.js";
import { Worker } from "./worker.js";

describe("Worker", () => {
  it("creates only a Deployment, with the secure pod defaults and one replica", async () => {
    const { resources, one } = await declare(
      () => new Worker("consumer", { image: "acme/consumer:2.0.0", namespace: "jobs" }),
    );
    expect(resources.map((r) => r.type).sort()).toEqual([
      "driftless:k8s:Worker",
      "kubernetes:apps/v1:Deployment",
    ]);
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    expect(deployment.metadata.namespace).toBe("jobs");
    expect(deployment.spec.replicas).toBe(1);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.ports).toBeUndefined();
    expect(container.readinessProbe).toBeUndefined();
    expect(container.securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(container.resources.limits).toEqual({ cpu: "500m", memory: "256Mi" });
    expect(deployment.metadata.labels["app.kubernetes.io/component"]).toBe("worker");
  });

  it("accepts a liveness probe with an explicit port, command and skipAwait", async () => {
    const { one } = await declare(
      () =>
        new Worker("consumer", {
          image: "acme/consumer:2.0.0",
          command: ["node"],
          args: ["consume.js"],
          liveness: Probe.http("/alive", 9000),
          replicas: 0,
          skipAwait: true,
        }),
    );
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet).toEqual({ path: "/alive", port: 9000 });
    expect(container.command).toEqual(["node"]);
    expect(container.args).toEqual(["consume.js"]);
    expect(deployment.spec.replicas).toBe(0);
    expect(deployment.metadata.annotations).toEqual({
      "pulumi.com/patchForce": "true",
      "pulumi.com/skipAwait": "true",
    });
  });

  it("rejects a liveness probe without a port", async () => {
    await expect(
      declare(() => new Worker("consumer", { image: "a:1", liveness: Probe.tcp() })),
    ).rejects.toThrow(
      "Worker `consumer`: `liveness.port` is required: a Worker has no container port (or use `Probe.exec`), got undefined",
    );
  });

  it("rejects negative replicas", async () => {
    await expect(declare(() => new Worker("consumer", { image: "a:1", replicas: -1 }))).rejects.toThrow(
      "Worker `consumer`: `replicas` must be at least 0, got -1",
    );
  });

  it("takes readiness and startup probes, `liveness: false`, rollout controls, and registers its outputs", async () => {
    const { one, result } = await declare(
      () =>
        new Worker("consumer", {
          image: "acme/consumer:2.0.0",
          replicas: 3,
          liveness: false,
          readiness: Probe.exec(["/bin/ready"]),
          startup: Probe.tcp(9000),
          strategy: { type: "Recreate" },
          annotations: { "acme.io/owner": "jobs" },
        }),
    );
    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.livenessProbe).toBeUndefined();
    expect(container.readinessProbe.exec).toEqual({ command: ["/bin/ready"] });
    expect(container.startupProbe.tcpSocket).toEqual({ port: 9000 });
    expect(deployment.spec.strategy).toEqual({ type: "Recreate" });
    expect(deployment.metadata.annotations).toEqual({
      "acme.io/owner": "jobs",
      "pulumi.com/patchForce": "true",
    });
    expect(deployment.spec.template.spec.topologySpreadConstraints[0].topologyKey).toBe(
      "topology.kubernetes.io/zone",
    );
    expect(await settle(result.deploymentName)).toBe("consumer");
  });
});
