import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { DEFAULT_RESOURCES } from "./defaults.js";
import { Namespace, type NamespaceArgs } from "./namespace.js";
import { NetworkPeer } from "./networkPeer.js";

describe("Namespace", () => {
  it("creates the tenant baseline with default quota, limits and a default deny", async () => {
    const { resources, one, result } = await declare(() => new Namespace("team-a"));
    expect(resources.map((r) => r.type).sort()).toEqual([
      "driftless:k8s:Namespace",
      "kubernetes:core/v1:LimitRange",
      "kubernetes:core/v1:Namespace",
      "kubernetes:core/v1:ResourceQuota",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    ]);
    expect(one("kubernetes:core/v1:Namespace").inputs.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "driftless.dev/tenant": "team-a",
    });
    const quota = one("kubernetes:core/v1:ResourceQuota").inputs;
    expect(quota.metadata.namespace).toBe("team-a");
    expect(quota.spec.hard).toEqual({
      "requests.cpu": "4",
      "requests.memory": "8Gi",
      "limits.cpu": "8",
      "limits.memory": "16Gi",
      pods: "50",
    });
    expect(one("kubernetes:core/v1:LimitRange").inputs.spec.limits[0]).toEqual({
      type: "Container",
      defaultRequest: { cpu: "100m", memory: "128Mi" },
      default: { cpu: "500m", memory: "256Mi" },
    });
    const deny = one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "team-a-deny-all").inputs;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    const allow = one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "team-a-allow").inputs;
    expect(allow.spec.ingress).toEqual([{ from: [{ podSelector: {} }] }]);
    expect(allow.spec.egress).toHaveLength(2);
    expect(allow.spec.egress[1].ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(await settle(result.namespaceName)).toBe("team-a");
  });

  it("builds the allow list, a ServiceAccount and overrides", async () => {
    const { one } = await declare(
      () =>
        new Namespace("team-a", {
          quota: { pods: 10, requestsCpu: "2" },
          containerLimits: { max: { memory: "2Gi" } },
          allowIngressFrom: [NetworkPeer.namespace("ingress-nginx"), NetworkPeer.pods({ app: "gateway" })],
          allowEgressTo: [NetworkPeer.cidr("10.0.0.0/8", ["10.1.0.0/16"]), NetworkPeer.sameNamespace()],
          allowDns: false,
          podSecurity: "baseline",
          serviceAccount: {
            name: "workload",
            annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x" },
          },
          labels: { team: "a" },
          skipAwait: true,
        }),
    );
    const ns = one("kubernetes:core/v1:Namespace").inputs;
    expect(ns.metadata.labels).toMatchObject({ team: "a", "pod-security.kubernetes.io/enforce": "baseline" });
    expect(ns.metadata.annotations).toEqual({
      "pulumi.com/patchForce": "true",
      "pulumi.com/skipAwait": "true",
    });
    expect(one("kubernetes:core/v1:ResourceQuota").inputs.spec.hard).toMatchObject({
      pods: "10",
      "requests.cpu": "2",
    });
    expect(one("kubernetes:core/v1:LimitRange").inputs.spec.limits[0].max).toEqual({ memory: "2Gi" });
    const allow = one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "team-a-allow").inputs.spec;
    expect(allow.ingress[0].from).toEqual([
      { podSelector: {} },
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
      { podSelector: { matchLabels: { app: "gateway" } } },
    ]);
    expect(allow.egress).toEqual([
      {
        to: [
          { podSelector: {} },
          { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
          { podSelector: {} },
        ],
      },
    ]);
    const sa = one("kubernetes:core/v1:ServiceAccount").inputs;
    expect(sa.metadata.name).toBe("workload");
    expect(sa.metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x",
      "pulumi.com/patchForce": "true",
      "pulumi.com/skipAwait": "true",
    });
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it.each([
    [{ quota: { pods: -1 } }, "Namespace `team-a`: `quota.pods` must be at least 0, got -1"],
    [
      { quota: { requestsMemory: "lots" } },
      '`quota.requestsMemory` must be a Kubernetes quantity, got "lots"',
    ],
    [
      { containerLimits: { defaultRequest: { cpu: "2" } } },
      '`containerLimits.defaultRequest.cpu` must not exceed the default limit 500m, got "2"',
    ],
    [
      { containerLimits: { max: { cpu: "zero" } } },
      '`containerLimits.max.cpu` must be a positive Kubernetes quantity, got "zero"',
    ],
    [
      { allowEgressTo: [NetworkPeer.cidr("10.0.0.1/8")] },
      "`allowEgressTo[0]` has host bits set (the block is 10.0.0.0/8)",
    ],
    [{ allowIngressFrom: [NetworkPeer.namespace("Bad_NS")] }, "`allowIngressFrom[0]` must be a DNS label"],
    [
      { podSecurity: "loose" as "baseline" },
      '`podSecurity` must be one of "restricted", "baseline", "privileged", got "loose"',
    ],
    [{ serviceAccount: { name: "Bad Name" } }, "`serviceAccount.name` must be a DNS label"],
    [{ labels: { team: "a/b" } }, '`labels.team` is not a valid label value, got "a/b"'],
  ] as [NamespaceArgs, string][])("rejects %j", async (args, message) => {
    await expect(declare(() => new Namespace("team-a", args))).rejects.toThrow(message);
  });

  it("agrees with the workloads' default limits and can leave the quota out", async () => {
    const { all, one, result } = await declare(
      () => new Namespace("shop", { quota: false, labels: { "acme.io/flag": "" } }),
    );
    expect(all("kubernetes:core/v1:ResourceQuota")).toHaveLength(0);
    expect(result.quota).toBeUndefined();
    expect(one("kubernetes:core/v1:LimitRange").inputs.spec.limits[0].default).toEqual(
      DEFAULT_RESOURCES.limits,
    );
    // An empty label value is valid in Kubernetes, as it is for workloads.
    expect(one("kubernetes:core/v1:Namespace").inputs.metadata.labels["acme.io/flag"]).toBe("");
  });
});
