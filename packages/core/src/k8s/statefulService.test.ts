import { describe, expect, it } from "vitest";
import { declare, rejected, settle } from "../../test/harness.js";
import { Mount } from "./mount.js";
import { Probe } from "./probe.js";
import { StatefulService } from "./statefulService.js";

describe("StatefulService", () => {
  it("creates a headless Service and a StatefulSet with per-pod volumes", async () => {
    const { one, result } = await declare(
      () =>
        new StatefulService("queue", {
          image: "acme/queue:3.1.0",
          replicas: 3,
          port: 5672,
          readiness: Probe.tcp(),
          mounts: [Mount.emptyDir("/tmp")],
          volumeClaims: [{ name: "data", path: "/var/lib/queue", size: "10Gi", storageClassName: "gp3" }],
        }),
    );
    const service = one("kubernetes:core/v1:Service").inputs;
    expect(service.spec.clusterIP).toBe("None");
    expect(service.spec.ports).toEqual([{ name: "main", port: 5672, targetPort: "main" }]);
    const sts = one("kubernetes:apps/v1:StatefulSet").inputs;
    expect(sts.spec).toMatchObject({
      serviceName: "queue",
      replicas: 3,
      podManagementPolicy: "OrderedReady",
    });
    expect(sts.spec.volumeClaimTemplates).toEqual([
      {
        metadata: {
          name: "data",
          labels: { "app.kubernetes.io/name": "queue", "app.kubernetes.io/instance": "queue" },
        },
        spec: {
          accessModes: ["ReadWriteOnce"],
          resources: { requests: { storage: "10Gi" } },
          storageClassName: "gp3",
        },
      },
    ]);
    const container = sts.spec.template.spec.containers[0];
    expect(container.volumeMounts).toEqual([
      { name: "mount-0", mountPath: "/tmp", readOnly: false },
      { name: "data", mountPath: "/var/lib/queue" },
    ]);
    expect(container.readinessProbe.tcpSocket).toEqual({ port: 5672 });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(sts.spec.template.spec.topologySpreadConstraints).toHaveLength(1);
    expect(await settle(result.statefulSetName)).toBe("queue");
  });

  it("works without port or claims", async () => {
    const { one } = await declare(() => new StatefulService("cache", { image: "acme/cache:1.0.0" }));
    expect(one("kubernetes:core/v1:Service").inputs.spec.ports).toBeUndefined();
    expect(one("kubernetes:apps/v1:StatefulSet").inputs.spec.volumeClaimTemplates).toEqual([]);
  });

  it("reports every bad claim and probe at once", async () => {
    const error = await rejected<Error & { problems: { field: string }[] }>(
      declare(
        () =>
          new StatefulService("queue", {
            image: "a:1",
            liveness: Probe.tcp(),
            volumeClaims: [
              { name: "data", path: "var", size: "lots" },
              { name: "data", path: "/d", size: "1Gi", accessMode: "Sometimes" as "ReadWriteOnce" },
            ],
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "volumeClaims[0].path",
      "volumeClaims[0].size",
      "volumeClaims[1].name",
      "volumeClaims[1].accessMode",
      "liveness.port",
    ]);
  });
});
