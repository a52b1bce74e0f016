// The core every workload component builds on: the validation of WorkloadArgs
// (declared in `workloadArgs.ts`) and startWorkload, which gives a component its labels, object metadata, own
// ServiceAccount and the pod template all kinds share (the pod spec is in
// `podSpec.ts`).
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import { toLabelValue } from "../internal/sanitize.js";
import type { Validator } from "../internal/validator.js";
import { validateContainer } from "./container.js";
import { FIXED_NAME_OPTIONS, objectMetadata } from "./metadata.js";
import { Namespace } from "./namespace.js";
import { podSpec } from "./podSpec.js";
import type { Probe } from "./probe.js";
import { type RolloutArgs, zoneSpread } from "./rollout.js";
import type { WorkloadArgs } from "./workloadArgs.js";

export type { WorkloadArgs } from "./workloadArgs.js";

/** The `app.kubernetes.io/*` labels: the stable selector subset and the full set. */
export interface WorkloadLabels {
  readonly selector: Readonly<Record<string, string>>;
  readonly all: Readonly<Record<string, string>>;
}

/** Validates the shared fields; call before any child is created. */
export function validateWorkload(v: Validator, name: string, args: WorkloadArgs): void {
  v.dnsLabel("name", name);
  validateContainer(v, "", args);
  const names = new Set([name]);
  for (const [list, containers] of [
    ["initContainers", args.initContainers ?? []],
    ["sidecars", args.sidecars ?? []],
  ] as const) {
    for (const [i, c] of containers.entries()) {
      const field = `${list}[${i}]`;
      v.dnsLabel(`${field}.name`, c.name);
      v.check(!names.has(c.name), `${field}.name`, "is used by another container of the pod", c.name);
      names.add(c.name);
      validateContainer(v, `${field}.`, c);
    }
  }
  if (args.serviceAccount !== undefined) {
    v.check(
      args.serviceAccountName === undefined,
      "serviceAccount",
      "must not be set together with `serviceAccountName`",
      args.serviceAccount,
    );
    if (args.serviceAccount !== true)
      v.annotations("serviceAccount.annotations", args.serviceAccount.annotations);
  }
  const paths = new Set<string>();
  for (const [i, m] of (args.mounts ?? []).entries()) {
    v.check(m.path.startsWith("/"), `mounts[${i}].path`, "must be an absolute path", m.path);
    v.check(!paths.has(m.path), `mounts[${i}].path`, "is mounted twice", m.path);
    paths.add(m.path);
  }
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
  v.integer("terminationGracePeriodSeconds", args.terminationGracePeriodSeconds, 0);
  if (args.preStop !== undefined)
    v.check(args.preStop.length > 0, "preStop", "must hold a command", args.preStop);
  v.labels("labels", args.labels);
  v.annotations("annotations", args.annotations);
  v.annotations("podAnnotations", args.podAnnotations);
  v.labels("nodeSelector", args.nodeSelector);
  for (const [i, t] of (args.tolerations ?? []).entries()) {
    if (t.operator !== undefined && isKnown(t.operator))
      v.oneOf(`tolerations[${i}].operator`, t.operator as string, ["Exists", "Equal"]);
    if (t.effect !== undefined && isKnown(t.effect))
      v.oneOf(`tolerations[${i}].effect`, t.effect as string, [
        "NoSchedule",
        "PreferNoSchedule",
        "NoExecute",
      ]);
  }
  for (const field of ["version", "partOf"] as const) {
    const value = args[field];
    if (value !== undefined)
      v.check(toLabelValue(value) === value, field, "is not a valid label value", value);
  }
}

/** `app.kubernetes.io/*` labels for a workload called `name`. */
function workloadLabels(name: string, component: string, args: WorkloadArgs): WorkloadLabels {
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
 * Where a workload's objects go: the namespace name (an Output of the
 * {@link Namespace} component when one is given, so its objects wait for it)
 * and what the children must depend on to keep creation order.
 */
function placement(args: WorkloadArgs): {
  readonly namespace: pulumi.Input<string> | undefined;
  readonly dependsOn: pulumi.Resource[];
} {
  const dependsOn: pulumi.Resource[] = [];
  let namespace: pulumi.Input<string> | undefined;
  if (args.namespace instanceof Namespace) {
    namespace = args.namespace.namespaceName;
    dependsOn.push(args.namespace);
  } else namespace = args.namespace;
  if (args.serviceAccountName instanceof k8s.core.v1.ServiceAccount) dependsOn.push(args.serviceAccountName);
  return { namespace, dependsOn };
}

/** Labels and annotations of the pod template. */
function podMetadata(labels: WorkloadLabels, args: WorkloadArgs): k8s.types.input.meta.v1.ObjectMeta {
  return {
    labels: { ...labels.all },
    ...(args.podAnnotations && Object.keys(args.podAnnotations).length > 0
      ? { annotations: { ...args.podAnnotations } }
      : {}),
  };
}

/**
 * Creates the workload's own ServiceAccount when `args.serviceAccount` asks for
 * one, and returns the args the pod spec is built from (naming that account).
 */
function ownServiceAccount(
  parent: pulumi.Resource,
  name: string,
  args: WorkloadArgs,
  metadata: k8s.types.input.meta.v1.ObjectMeta,
  dependsOn: pulumi.Resource[],
): { readonly args: WorkloadArgs; readonly serviceAccount?: k8s.core.v1.ServiceAccount } {
  if (args.serviceAccount === undefined) return { args };
  const annotations = args.serviceAccount === true ? undefined : args.serviceAccount.annotations;
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    name,
    {
      metadata: {
        ...metadata,
        annotations: {
          ...(metadata.annotations as Record<string, pulumi.Input<string>> | undefined),
          ...annotations,
        },
      },
      // Mounted by the pod spec (serviceAccountName is set), not for every pod that might use it.
      automountServiceAccountToken: false,
    },
    { parent, dependsOn, ...FIXED_NAME_OPTIONS },
  );
  return { args: { ...args, serviceAccountName: serviceAccount }, serviceAccount };
}

/** The probes of a workload's container. */
export interface WorkloadProbes {
  readonly readiness?: Probe;
  readonly liveness?: Probe;
  readonly startup?: Probe;
}

/** What a component adds to the pod template every workload shares. */
export interface PodTemplateOptions {
  /** Ports of the container. */
  readonly ports?: k8s.types.input.core.v1.ContainerPort[];
  /** Probes of the container, aimed at `probePort` unless they name their own port. */
  readonly probes?: WorkloadProbes;
  /** @default 0 */
  readonly probePort?: number;
  /** Mounts of volumes the pod spec does not hold (StatefulSet claim templates). */
  readonly claimMounts?: readonly k8s.types.input.core.v1.VolumeMount[];
  /** @default - Kubernetes' (`Always`) */
  readonly restartPolicy?: "OnFailure" | "Never";
  /** Spread pods across zones, given the most replicas that may run. */
  readonly zoneSpread?: { readonly mode: RolloutArgs["zoneSpread"]; readonly mostReplicas: number };
}

/** What a workload component builds its objects from; see {@link startWorkload}. */
export interface Workload {
  readonly labels: WorkloadLabels;
  /**
   * The options of every child: the component as parent, after the namespace
   * and ServiceAccount, replaced old one first (every child has the fixed name `name`).
   */
  readonly childOptions: {
    readonly parent: pulumi.Resource;
    readonly dependsOn: pulumi.Resource[];
    readonly deleteBeforeReplace: true;
  };
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** Metadata of an object the component creates, with `annotations` on top of the workload's. */
  metadata(annotations?: Readonly<Record<string, pulumi.Input<string>>>): k8s.types.input.meta.v1.ObjectMeta;
  /** The pod template: the shared pod spec and metadata, with what the component adds. */
  podTemplate(options?: PodTemplateOptions): k8s.types.input.core.v1.PodTemplateSpec;
}

/**
 * Starts the workload `name` of a component (`parent`), after its args are
 * validated: its labels and placement, its own ServiceAccount when asked for,
 * and the builders of its objects' metadata and pod template.
 */
export function startWorkload(
  parent: pulumi.Resource,
  name: string,
  component: string,
  args: WorkloadArgs,
): Workload {
  const labels = workloadLabels(name, component, args);
  const { namespace, dependsOn } = placement(args);
  const metadata = (annotations?: Readonly<Record<string, pulumi.Input<string>>>) =>
    objectMetadata({
      name,
      namespace,
      labels: labels.all,
      skipAwait: args.skipAwait ?? false,
      annotations: { ...args.annotations, ...annotations },
    });
  const identity = ownServiceAccount(parent, name, args, metadata(), dependsOn);
  return {
    labels,
    childOptions: { parent, dependsOn, ...FIXED_NAME_OPTIONS },
    ...(identity.serviceAccount === undefined ? {} : { serviceAccount: identity.serviceAccount }),
    metadata,
    podTemplate(options = {}) {
      const { readiness, liveness, startup } = options.probes ?? {};
      const port = options.probePort ?? 0;
      const spec = podSpec(
        name,
        identity.args,
        {
          ...(options.ports === undefined ? {} : { ports: options.ports }),
          ...(readiness ? { readinessProbe: readiness.toK8s(port) } : {}),
          ...(liveness ? { livenessProbe: liveness.toK8s(port) } : {}),
          ...(startup ? { startupProbe: startup.toK8s(port) } : {}),
          ...(options.claimMounts === undefined ? {} : { claimMounts: options.claimMounts }),
        },
        options.restartPolicy,
      );
      const spread = options.zoneSpread;
      return {
        metadata: podMetadata(labels, args),
        spec: spread ? { ...spec, ...zoneSpread(spread.mode, spread.mostReplicas, labels.selector) } : spec,
      };
    },
  };
}
