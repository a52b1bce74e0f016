import { describe, expect, it } from "vitest";
import { classify, fingerprint, type KubeObject, lastWriters, seen } from "./changes.js";

const PROVIDER = "pulumi-kubernetes-2f7a9c1e";

function deployment(
  image: string,
  writers: { manager: string; time: string; subresource?: string }[],
  extra: { annotations?: Record<string, string>; status?: unknown } = {},
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "api",
      namespace: "shop",
      generation: 3,
      labels: { app: "api" },
      annotations: { "pulumi.com/patchForce": "true", ...extra.annotations },
      managedFields: writers.map((w) => ({ operation: "Apply", ...w })),
    },
    spec: { replicas: 2, template: { spec: { containers: [{ name: "api", image }] } } },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

const T1 = "2026-12-06T10:00:00Z";
const T2 = "2026-12-06T10:05:00Z";

describe("classify", () => {
  const base = deployment("api:1", [{ manager: PROVIDER, time: T1 }]);

  it("counts an image changed by another field manager, naming it", () => {
    const edited = deployment("api:hotfix", [
      { manager: PROVIDER, time: T1 },
      { manager: "hotfix", time: T2 },
    ]);
    expect(classify(seen(base), "MODIFIED", edited)).toEqual({
      counts: true,
      reason: "changed",
      by: "hotfix",
      at: Date.parse(T2),
    });
  });

  it("ignores the provider's own writes, by its default name or the one a program gives it", () => {
    const own = deployment("api:2", [{ manager: PROVIDER, time: T2 }]);
    expect(classify(seen(base), "MODIFIED", own)).toMatchObject({ counts: false, reason: "own-manager" });
    const named = deployment("api:2", [{ manager: "my-pulumi", time: T2 }], {
      annotations: { "pulumi.com/patchFieldManager": "my-pulumi" },
    });
    expect(classify(seen(base), "MODIFIED", named)).toMatchObject({ counts: false, reason: "own-manager" });
  });

  it("ignores status updates, whoever writes them", () => {
    const status = deployment(
      "api:1",
      [
        { manager: PROVIDER, time: T1 },
        { manager: "kube-controller-manager", time: T2, subresource: "status" },
      ],
      { status: { availableReplicas: 2 } },
    );
    expect(fingerprint(status)).toBe(fingerprint(base));
    expect(classify(seen(base), "MODIFIED", status)).toMatchObject({ counts: false, reason: "unchanged" });
  });

  it("ignores the revision annotation and other writes of the cluster's controllers", () => {
    const annotated = deployment("api:1", [{ manager: PROVIDER, time: T1 }], {
      annotations: { "deployment.kubernetes.io/revision": "4" },
    });
    expect(classify(seen(base), "MODIFIED", annotated)).toMatchObject({ counts: false, reason: "unchanged" });
    const scaled = {
      ...deployment("api:1", [
        { manager: PROVIDER, time: T1 },
        { manager: "kube-controller-manager", time: T2 },
      ]),
      spec: { replicas: 5 },
    };
    expect(classify(seen(base), "MODIFIED", scaled)).toMatchObject({ counts: false, reason: "controller" });
  });

  it("counts a label added by hand and a ConfigMap's data changed, comparing hashes only", () => {
    const labelled = deployment("api:1", [
      { manager: PROVIDER, time: T1 },
      { manager: "kubectl-label", time: T2 },
    ]);
    (labelled.metadata as { labels: Record<string, string> }).labels = { app: "api", team: "x" };
    expect(classify(seen(base), "MODIFIED", labelled)).toMatchObject({ counts: true, by: "kubectl-label" });
    const config = (data: string): KubeObject => ({
      kind: "ConfigMap",
      metadata: { name: "c", managedFields: [{ manager: "kubectl-edit", time: T2, operation: "Update" }] },
      data: { LOG_LEVEL: data },
    });
    expect(classify(seen(config("info")), "MODIFIED", config("debug"))).toMatchObject({ counts: true });
    expect(JSON.stringify(seen(config("s3cr3t")))).not.toContain("s3cr3t");
  });

  it("counts a deletion, and only sets the baseline for an object first seen", () => {
    expect(classify(seen(base), "DELETED", base)).toEqual({ counts: true, reason: "deleted" });
    expect(classify(undefined, "ADDED", base)).toEqual({ counts: false, reason: "first-seen" });
  });

  it("names the newest writers, the status subresource left out", () => {
    const object = deployment("api:1", [
      { manager: PROVIDER, time: T1 },
      { manager: "a", time: T2 },
      { manager: "b", time: T2 },
      { manager: "kubelet", time: "2026-12-06T11:00:00Z", subresource: "status" },
    ]);
    expect(lastWriters(object)).toEqual({ managers: ["a", "b"], at: Date.parse(T2) });
  });
});
