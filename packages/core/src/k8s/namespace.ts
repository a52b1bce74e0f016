import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { cidrProblem } from "../internal/cidr.js";
import { Validator } from "../internal/validator.js";
import { DEFAULT_RESOURCES } from "./defaults.js";
import { FIXED_NAME_OPTIONS, objectMetadata } from "./metadata.js";
import type { NetworkPeer } from "./networkPeer.js";
import { parseQuantity } from "./quantity.js";
import type { ResourceAmounts } from "./resources.js";

/**
 * Totals the namespace may use.
 * @see https://kubernetes.io/docs/concepts/policy/resource-quotas/
 */
export interface QuotaArgs {
  /**
   * Sum of CPU requests.
   * @default "4"
   */
  readonly requestsCpu?: string;
  /**
   * Sum of memory requests.
   * @default "8Gi"
   */
  readonly requestsMemory?: string;
  /**
   * Sum of CPU limits.
   * @default "8"
   */
  readonly limitsCpu?: string;
  /**
   * Sum of memory limits.
   * @default "16Gi"
   */
  readonly limitsMemory?: string;
  /**
   * Number of pods.
   * @default 50
   */
  readonly pods?: number;
}

/**
 * Per-container defaults for containers that declare no resources.
 * @see https://kubernetes.io/docs/concepts/policy/limit-range/
 */
export interface ContainerLimitArgs {
  /**
   * Request applied when a container sets none.
   * @default { cpu: "100m", memory: "128Mi" } (the workloads' `DEFAULT_RESOURCES.requests`)
   */
  readonly defaultRequest?: ResourceAmounts;
  /**
   * Limit applied when a container sets none.
   * @default { cpu: "500m", memory: "256Mi" } (the workloads' `DEFAULT_RESOURCES.limits`)
   */
  readonly defaultLimit?: ResourceAmounts;
  /**
   * Largest limit a container may set.
   * @default - no maximum
   */
  readonly max?: ResourceAmounts;
}

/** Inputs of {@link Namespace}. */
export interface NamespaceArgs {
  /**
   * ResourceQuota of the namespace; `false` for none (e.g. when the cluster
   * manages quotas elsewhere).
   * @default - the {@link QuotaArgs} defaults
   */
  readonly quota?: QuotaArgs | false;
  /**
   * LimitRange of the namespace.
   * @default - the {@link ContainerLimitArgs} defaults
   */
  readonly containerLimits?: ContainerLimitArgs;
  /**
   * Who else may connect to pods of the namespace (pods of the namespace always
   * may); everything else is denied.
   * @default []
   * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
   */
  readonly allowIngressFrom?: readonly NetworkPeer[];
  /**
   * Where else pods of the namespace may connect (each other always); everything else is denied.
   * @default []
   */
  readonly allowEgressTo?: readonly NetworkPeer[];
  /**
   * Allow DNS lookups (port 53 to kube-system) despite the default deny.
   * @default true
   */
  readonly allowDns?: boolean;
  /**
   * Pod Security Standard enforced on the namespace.
   * @default "restricted"
   * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
   */
  readonly podSecurity?: "restricted" | "baseline" | "privileged";
  /**
   * Create a ServiceAccount for the tenant's workloads, with these annotations
   * (e.g. `eks.amazonaws.com/role-arn`).
   * @default - no ServiceAccount
   * @see https://kubernetes.io/docs/concepts/security/service-accounts/
   */
  readonly serviceAccount?: {
    readonly name?: string;
    readonly annotations?: Readonly<Record<string, pulumi.Input<string>>>;
  };
  /**
   * Extra labels on the Namespace.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Do not wait for readiness of the created objects.
   * @default false
   */
  readonly skipAwait?: boolean;
}

/**
 * A tenant's baseline: Namespace, ResourceQuota, LimitRange, a default-deny
 * NetworkPolicy plus one NetworkPolicy holding the explicit allow list, and an
 * optional ServiceAccount.
 */
export class Namespace extends pulumi.ComponentResource {
  readonly namespace: k8s.core.v1.Namespace;
  /** The ResourceQuota, `undefined` with `quota: false`. */
  readonly quota?: k8s.core.v1.ResourceQuota;
  readonly limitRange: k8s.core.v1.LimitRange;
  readonly denyAll: k8s.networking.v1.NetworkPolicy;
  readonly allow: k8s.networking.v1.NetworkPolicy;
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The namespace's name (equal to the component name). */
  readonly namespaceName: pulumi.Output<string>;

  constructor(name: string, args: NamespaceArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:Namespace", name, {}, opts);
    const quotaArgs = args.quota === false ? undefined : (args.quota ?? {});
    const quota = quotaArgs && {
      "requests.cpu": quotaArgs.requestsCpu ?? "4",
      "requests.memory": quotaArgs.requestsMemory ?? "8Gi",
      "limits.cpu": quotaArgs.limitsCpu ?? "8",
      "limits.memory": quotaArgs.limitsMemory ?? "16Gi",
      pods: String(quotaArgs.pods ?? 50),
    };
    const defaultRequest = { ...DEFAULT_RESOURCES.requests, ...args.containerLimits?.defaultRequest };
    const defaultLimit = { ...DEFAULT_RESOURCES.limits, ...args.containerLimits?.defaultLimit };
    const ingressFrom = args.allowIngressFrom ?? [];
    const egressTo = args.allowEgressTo ?? [];
    const allowDns = args.allowDns ?? true;
    const podSecurity = args.podSecurity ?? "restricted";
    const skipAwait = args.skipAwait ?? false;

    const v = new Validator("Namespace", name);
    v.dnsLabel("name", name);
    for (const [key, value] of Object.entries(quota ?? {})) {
      const field = key === "pods" ? "quota.pods" : `quota.${camel(key)}`;
      if (key === "pods") v.integer(field, quotaArgs?.pods, 0);
      else v.check((parseQuantity(value) ?? -1) >= 0, field, "must be a Kubernetes quantity", value);
    }
    for (const [group, amounts] of [
      ["defaultRequest", defaultRequest],
      ["defaultLimit", defaultLimit],
      ["max", args.containerLimits?.max ?? {}],
    ] as const) {
      for (const [res, value] of Object.entries(amounts)) {
        v.check(
          (parseQuantity(value) ?? 0) > 0,
          `containerLimits.${group}.${res}`,
          "must be a positive Kubernetes quantity",
          value,
        );
      }
    }
    for (const res of ["cpu", "memory"] as const) {
      const request = parseQuantity(defaultRequest[res]) ?? 0;
      const limit = parseQuantity(defaultLimit[res]) ?? 0;
      v.check(
        request <= limit,
        `containerLimits.defaultRequest.${res}`,
        `must not exceed the default limit ${defaultLimit[res]}`,
        defaultRequest[res],
      );
    }
    for (const [field, peers] of [
      ["allowIngressFrom", ingressFrom],
      ["allowEgressTo", egressTo],
    ] as const) {
      peers.forEach((p, i) => {
        if (p.peer.kind === "cidr") {
          for (const block of [p.peer.cidr, ...p.peer.except]) {
            const problem = cidrProblem(block);
            if (problem !== undefined) v.fail(`${field}[${i}]`, problem, block);
          }
        }
        if (p.peer.kind === "namespace") v.dnsLabel(`${field}[${i}]`, p.peer.name);
      });
    }
    v.oneOf("podSecurity", args.podSecurity, ["restricted", "baseline", "privileged"]);
    if (args.serviceAccount?.name !== undefined)
      v.dnsLabel("serviceAccount.name", args.serviceAccount.name, 253);
    v.labels("labels", args.labels);

    v.done();

    const labels = { "app.kubernetes.io/managed-by": "driftless", "driftless.dev/tenant": name };
    const parent = { parent: this, ...FIXED_NAME_OPTIONS };
    const meta = (objectName: string, annotations?: Readonly<Record<string, pulumi.Input<string>>>) =>
      objectMetadata({
        name: objectName,
        namespace: name,
        labels,
        skipAwait,
        ...(annotations ? { annotations } : {}),
      });

    this.namespace = new k8s.core.v1.Namespace(
      name,
      {
        metadata: objectMetadata({
          name,
          namespace: undefined,
          labels: {
            ...args.labels,
            ...labels,
            "pod-security.kubernetes.io/enforce": podSecurity,
            "pod-security.kubernetes.io/warn": podSecurity,
          },
          skipAwait,
        }),
      },
      parent,
    );
    // Children name the namespace through its Output so they wait for it to exist.
    this.namespaceName = this.namespace.metadata.apply((m) => m.name ?? name);
    const inNamespace = (
      objectName: string,
      annotations?: Readonly<Record<string, pulumi.Input<string>>>,
    ) => ({
      ...meta(objectName, annotations),
      namespace: this.namespaceName,
    });

    if (quota) {
      this.quota = new k8s.core.v1.ResourceQuota(
        name,
        { metadata: inNamespace("quota"), spec: { hard: quota } },
        parent,
      );
    }
    this.limitRange = new k8s.core.v1.LimitRange(
      name,
      {
        metadata: inNamespace("limits"),
        spec: {
          limits: [
            {
              type: "Container",
              defaultRequest,
              default: defaultLimit,
              ...(args.containerLimits?.max ? { max: { ...args.containerLimits.max } } : {}),
            },
          ],
        },
      },
      parent,
    );
    this.denyAll = new k8s.networking.v1.NetworkPolicy(
      `${name}-deny-all`,
      {
        metadata: inNamespace("default-deny"),
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
      parent,
    );
    const sameNamespace = [{ podSelector: {} }];
    const dnsRule = {
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }],
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
      ],
    };
    this.allow = new k8s.networking.v1.NetworkPolicy(
      `${name}-allow`,
      {
        metadata: inNamespace("allow-listed"),
        spec: {
          podSelector: {},
          policyTypes: ["Ingress", "Egress"],
          ingress: [{ from: [...sameNamespace, ...ingressFrom.map((p) => p.toK8s())] }],
          egress: [
            { to: [...sameNamespace, ...egressTo.map((p) => p.toK8s())] },
            ...(allowDns ? [dnsRule] : []),
          ],
        },
      },
      parent,
    );
    if (args.serviceAccount) {
      this.serviceAccount = new k8s.core.v1.ServiceAccount(
        name,
        {
          metadata: inNamespace(args.serviceAccount.name ?? name, args.serviceAccount.annotations),
          automountServiceAccountToken: false,
        },
        parent,
      );
    }
    this.registerOutputs({ namespaceName: this.namespaceName });
  }
}

function camel(quotaKey: string): string {
  return quotaKey.replace(/\.(\w)/, (_, c: string) => c.toUpperCase());
}
