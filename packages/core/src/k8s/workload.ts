import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import type { Validator } from "../internal/validator.js";
import { toLabelValue } from "../provenance/sanitize.js";
import type { EnvFrom } from "./envFrom.js";
import { EnvValue } from "./envValue.js";
import type { Mount } from "./mount.js";
import { parseQuantity } from "./quantity.js";

/** CPU and memory amounts as Kubernetes quantities (`250m`, `512Mi`). */
export interface ResourceAmounts {
  /**
   * CPU, e.g. `250m` or `1`.
   * @see https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#meaning-of-cpu
   */
  readonly cpu?: string;
  /**
   * Memory, e.g. `256Mi`.
   * @see https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#meaning-of-memory
   */
  readonly memory?: string;
}

/**
 * Requests and limits of the container. Omitted amounts are defaulted, so
 * every container always has both (the `container-resource-limits` guardrail).
 * @see https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
 */
export interface ResourceRequirements {
  /**
   * What the scheduler reserves.
   * @default { cpu: "100m", memory: "128Mi" }
   */
  readonly requests?: ResourceAmounts;
  /**
   * The ceiling; a limit left out is the default or the request, whichever is larger.
   * @default { cpu: "500m", memory: "256Mi" }
   */
  readonly limits?: ResourceAmounts;
}

/** Default requests and limits. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
} as const;

/**
 * The secure pod defaults, each of which can be relaxed on its own.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 * @see https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
 */
export interface SecurityContextArgs {
  /**
   * Refuse to start a container whose user is root.
   * @default true
   */
  readonly runAsNonRoot?: boolean;
  /**
   * Mount the container's root filesystem read-only (use `Mount.emptyDir` for scratch space).
   * @default true
   */
  readonly readOnlyRootFilesystem?: boolean;
  /**
   * Allow a process to gain more privileges than its parent (setuid binaries).
   * @default false
   */
  readonly allowPrivilegeEscalation?: boolean;
  /**
   * Capabilities to add back after dropping `ALL`, e.g. `["NET_BIND_SERVICE"]`.
   * @default []
   */
  readonly addCapabilities?: readonly string[];
  /**
   * Seccomp profile of the pod.
   * @default "RuntimeDefault"
   */
  readonly seccompProfile?: "RuntimeDefault" | "Unconfined";
  /**
   * UID to run as.
   * @default - the image's user
   */
  readonly runAsUser?: number;
  /**
   * GID to run as.
   * @default - the image's group
   */
  readonly runAsGroup?: number;
  /**
   * Group that owns mounted volumes.
   * @default - none
   */
  readonly fsGroup?: number;
}

/** Inputs every workload (WebService, Worker, CronTask) shares. */
export interface WorkloadArgs {
  /**
   * Container image; pin a tag or digest (the `no-latest-tag` guardrail).
   * @see https://kubernetes.io/docs/concepts/containers/images/
   */
  readonly image: pulumi.Input<string>;
  /**
   * Entrypoint override.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: readonly pulumi.Input<string>[];
  /**
   * Arguments override.
   * @default - the image's CMD
   */
  readonly args?: readonly pulumi.Input<string>[];
  /**
   * Environment variables: literal values or {@link EnvValue}s.
   * @default {}
   * @see https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
   */
  readonly env?: Readonly<Record<string, pulumi.Input<string> | EnvValue>>;
  /**
   * Whole ConfigMaps, Secrets or ConfigBundles as environment variables.
   * @default []
   */
  readonly envFrom?: readonly EnvFrom[];
  /**
   * Volumes to mount.
   * @default []
   */
  readonly mounts?: readonly Mount[];
  /**
   * CPU and memory requests and limits.
   * @default DEFAULT_RESOURCES
   */
  readonly resources?: ResourceRequirements;
  /**
   * Relaxations of the secure pod defaults.
   * @default {} (all defaults on)
   */
  readonly securityContext?: SecurityContextArgs;
  /**
   * Namespace of every object the component creates.
   * @default - the provider's namespace
   */
  readonly namespace?: pulumi.Input<string>;
  /**
   * ServiceAccount the pods run as; its token is mounted only when this is set.
   * @default - the namespace's `default` account, token not mounted
   * @see https://kubernetes.io/docs/concepts/security/service-accounts/
   */
  readonly serviceAccountName?: pulumi.Input<string>;
  /**
   * Extra labels on every object and pod.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Value of the `app.kubernetes.io/version` label.
   * @default - no version label
   * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
   */
  readonly version?: string;
  /**
   * Value of the `app.kubernetes.io/part-of` label.
   * @default - no part-of label
   */
  readonly partOf?: string;
  /**
   * Do not wait for readiness: adds the annotation `pulumi.com/skipAwait: "true"`
   * to every object the component creates. For clusters without nodes (CI, kind without workers).
   * @default false
   * @see https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/#await-behavior
   */
  readonly skipAwait?: boolean;
}

/** The `app.kubernetes.io/*` labels: the stable selector subset and the full set. */
export interface WorkloadLabels {
  readonly selector: Readonly<Record<string, string>>;
  readonly all: Readonly<Record<string, string>>;
}

/** What a component adds to the shared container: ports and probes. */
export interface ContainerExtras {
  readonly ports?: k8s.types.input.core.v1.ContainerPort[];
  readonly readinessProbe?: k8s.types.input.core.v1.Probe;
  readonly livenessProbe?: k8s.types.input.core.v1.Probe;
}

/** Validates the shared fields; call before any child is created. */
export function validateWorkload(v: Validator, name: string, args: WorkloadArgs): void {
  v.dnsLabel("name", name);
  if (isKnown(args.image)) {
    v.check(
      typeof args.image === "string" && args.image.trim() !== "",
      "image",
      "must be a non-empty image reference",
      args.image,
    );
    v.check(!/\s/.test(args.image), "image", "must not contain whitespace", args.image);
  }
  for (const [key, value] of Object.entries(args.env ?? {})) {
    v.check(
      /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(key),
      `env.${key}`,
      "is not a valid environment variable name",
      key,
    );
    if (value instanceof EnvValue && value.source.from === "bundle") {
      const { bundle, key: bundleKey } = value.source;
      v.check(
        bundle.keys.includes(bundleKey),
        `env.${key}`,
        `names a key the bundle does not hold (${bundle.keys.join(", ")})`,
        bundleKey,
      );
    }
  }
  const paths = new Set<string>();
  for (const [i, m] of (args.mounts ?? []).entries()) {
    v.check(m.path.startsWith("/"), `mounts[${i}].path`, "must be an absolute path", m.path);
    v.check(!paths.has(m.path), `mounts[${i}].path`, "is mounted twice", m.path);
    paths.add(m.path);
  }
  validateResources(v, args.resources ?? {});
  const sc = args.securityContext ?? {};
  for (const field of ["runAsUser", "runAsGroup", "fsGroup"] as const)
    v.integer(`securityContext.${field}`, sc[field], 0);
  if ((sc.runAsNonRoot ?? true) && sc.runAsUser === 0) {
    v.fail(
      "securityContext.runAsUser",
      "is root while `runAsNonRoot` is true; set `runAsNonRoot: false` to run as root",
      0,
    );
  }
  v.oneOf("securityContext.seccompProfile", sc.seccompProfile, ["RuntimeDefault", "Unconfined"]);
  for (const cap of sc.addCapabilities ?? []) {
    v.check(
      /^[A-Z_]+$/.test(cap) && cap !== "ALL",
      "securityContext.addCapabilities",
      "must list capability names like `NET_BIND_SERVICE`, not `ALL`",
      cap,
    );
  }
  for (const [key, value] of Object.entries(args.labels ?? {})) {
    v.check(
      toLabelValue(value) === value || value === "",
      `labels.${key}`,
      "is not a valid label value",
      value,
    );
  }
  for (const field of ["version", "partOf"] as const) {
    const value = args[field];
    if (value !== undefined)
      v.check(toLabelValue(value) === value, field, "is not a valid label value", value);
  }
}

function validateResources(v: Validator, r: ResourceRequirements): void {
  for (const kind of ["requests", "limits"] as const) {
    for (const res of ["cpu", "memory"] as const) {
      const value = r[kind]?.[res];
      if (value !== undefined && (parseQuantity(value) ?? 0) <= 0) {
        v.fail(
          `resources.${kind}.${res}`,
          "must be a positive Kubernetes quantity like `250m` or `256Mi`",
          value,
        );
      }
    }
  }
  for (const res of ["cpu", "memory"] as const) {
    const request = r.requests?.[res];
    const limit = r.limits?.[res];
    if (
      request !== undefined &&
      limit !== undefined &&
      (parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? 0)
    ) {
      v.fail(`resources.requests.${res}`, `must not exceed the limit ${limit}`, request);
    }
  }
}

/** Requests and limits with defaults filled in; a defaulted limit never falls below the request. */
export function resolveResources(r: ResourceRequirements = {}): {
  requests: Record<string, string>;
  limits: Record<string, string>;
} {
  const pick = (res: "cpu" | "memory") => {
    const request = r.requests?.[res] ?? DEFAULT_RESOURCES.requests[res];
    const fallback = DEFAULT_RESOURCES.limits[res];
    const limit =
      r.limits?.[res] ??
      ((parseQuantity(request) ?? 0) > (parseQuantity(fallback) ?? 0) ? request : fallback);
    return { request, limit };
  };
  const cpu = pick("cpu");
  const memory = pick("memory");
  return {
    requests: { cpu: cpu.request, memory: memory.request },
    limits: { cpu: cpu.limit, memory: memory.limit },
  };
}

/** `app.kubernetes.io/*` labels for a workload called `name`. */
export function workloadLabels(name: string, component: string, args: WorkloadArgs): WorkloadLabels {
  // The selector must never change (it is immutable on Deployments), so it holds only the name.
  const selector = { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": name };
  return {
    selector,
    all: {
      ...args.labels,
      ...selector,
      "app.kubernetes.io/component": component,
      "app.kubernetes.io/managed-by": "driftless",
      ...(args.version === undefined ? {} : { "app.kubernetes.io/version": args.version }),
      ...(args.partOf === undefined ? {} : { "app.kubernetes.io/part-of": args.partOf }),
    },
  };
}

/**
 * The pod spec shared by every workload: one container named after the
 * workload, the secure defaults with the caller's relaxations, env, mounts and
 * resources.
 */
export function podSpec(
  name: string,
  args: WorkloadArgs,
  extras: ContainerExtras,
  restartPolicy?: "Always" | "OnFailure" | "Never",
): k8s.types.input.core.v1.PodSpec {
  const sc = args.securityContext ?? {};
  const mounts = (args.mounts ?? []).map((m, i) => m.toK8s(`mount-${i}`));
  const env = Object.entries(args.env ?? {}).map(([key, value]) =>
    value instanceof EnvValue ? { name: key, valueFrom: value.toValueFrom() } : { name: key, value },
  );
  const container: k8s.types.input.core.v1.Container = {
    name,
    image: args.image,
    ...(args.command === undefined ? {} : { command: [...args.command] }),
    ...(args.args === undefined ? {} : { args: [...args.args] }),
    ...(env.length > 0 ? { env } : {}),
    ...(args.envFrom?.length ? { envFrom: args.envFrom.map((e) => e.toK8s()) } : {}),
    ...(mounts.length > 0 ? { volumeMounts: mounts.map((m) => m.mount) } : {}),
    ...extras,
    resources: resolveResources(args.resources),
    securityContext: {
      runAsNonRoot: sc.runAsNonRoot ?? true,
      readOnlyRootFilesystem: sc.readOnlyRootFilesystem ?? true,
      allowPrivilegeEscalation: sc.allowPrivilegeEscalation ?? false,
      capabilities: {
        drop: ["ALL"],
        ...(sc.addCapabilities?.length ? { add: [...sc.addCapabilities] } : {}),
      },
      ...(sc.runAsUser === undefined ? {} : { runAsUser: sc.runAsUser }),
      ...(sc.runAsGroup === undefined ? {} : { runAsGroup: sc.runAsGroup }),
    },
  };
  return {
    containers: [container],
    ...(mounts.length > 0 ? { volumes: mounts.map((m) => m.volume) } : {}),
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(args.serviceAccountName === undefined ? {} : { serviceAccountName: args.serviceAccountName }),
    automountServiceAccountToken: args.serviceAccountName !== undefined,
    securityContext: {
      runAsNonRoot: sc.runAsNonRoot ?? true,
      seccompProfile: { type: sc.seccompProfile ?? "RuntimeDefault" },
      ...(sc.fsGroup === undefined ? {} : { fsGroup: sc.fsGroup }),
    },
  };
}
