import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { type Probe, validateProbes } from "./probe.js";
import { parseQuantity } from "./quantity.js";
import { startWorkload, validateWorkload, type WorkloadArgs } from "./workload.js";

/**
 * A PersistentVolumeClaim template: every pod gets its own volume, kept when
 * the pod is rescheduled.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#volume-claim-templates
 */
export interface VolumeClaimArgs {
  /** Claim name (a DNS label); the pod's claim is `<name>-<statefulset>-<ordinal>`. */
  readonly name: string;
  /** Where the volume is mounted, an absolute path. */
  readonly path: string;
  /** Requested size, e.g. `10Gi`. */
  readonly size: string;
  /**
   * StorageClass of the volume.
   * @default - the cluster's default class
   * @see https://kubernetes.io/docs/concepts/storage/storage-classes/
   */
  readonly storageClassName?: string;
  /**
   * Access mode.
   * @default "ReadWriteOnce"
   * @see https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes
   */
  readonly accessMode?: "ReadWriteOnce" | "ReadWriteOncePod" | "ReadOnlyMany" | "ReadWriteMany";
}

/** Inputs of {@link StatefulService}. */
export interface StatefulServiceArgs extends WorkloadArgs {
  /**
   * Replicas; each has a stable name (`<name>-0`, `<name>-1`, …) and its own volumes.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Port the container listens on, published by the headless Service.
   * @default - no port
   */
  readonly port?: number;
  /**
   * Per-pod volumes.
   * @default []
   */
  readonly volumeClaims?: readonly VolumeClaimArgs[];
  /**
   * Start and stop pods one at a time in order (`OrderedReady`) or all at once (`Parallel`).
   * @default "OrderedReady"
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#pod-management-policies
   */
  readonly podManagementPolicy?: "OrderedReady" | "Parallel";
  /**
   * When a pod counts as ready; `false` for none. Without `port`, an HTTP or TCP probe must name its port.
   * @default false
   */
  readonly readiness?: Probe | false;
  /**
   * When a pod is restarted; `false` for none.
   * @default false
   */
  readonly liveness?: Probe | false;
  /**
   * Spread pods across zones; see {@link RolloutArgs.zoneSpread}.
   * @default "preferred" when more than one replica runs, else false
   */
  readonly zoneSpread?: "preferred" | "required" | false;
}

/**
 * A StatefulSet with a headless Service (stable DNS per pod,
 * `<name>-0.<name>.<namespace>.svc`) and per-pod volumes from claim templates,
 * with the secure workload defaults.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/
 */
export class StatefulService extends pulumi.ComponentResource {
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The headless Service that gives every pod its DNS name. */
  readonly service: k8s.core.v1.Service;
  /** The StatefulSet's name. */
  readonly statefulSetName: pulumi.Output<string>;

  constructor(name: string, args: StatefulServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:StatefulService", name, {}, opts);
    const replicas = args.replicas ?? 1;
    const claims = args.volumeClaims ?? [];
    const probes = { readiness: args.readiness || undefined, liveness: args.liveness || undefined };

    const v = new Validator("StatefulService", name);
    validateWorkload(v, name, args);
    v.integer("replicas", args.replicas, 0);
    v.port("port", args.port);
    v.oneOf("podManagementPolicy", args.podManagementPolicy, ["OrderedReady", "Parallel"]);
    const claimNames = new Set<string>();
    const paths = new Set((args.mounts ?? []).map((m) => m.path));
    for (const [i, c] of claims.entries()) {
      const field = `volumeClaims[${i}]`;
      v.dnsLabel(`${field}.name`, c.name);
      v.check(!claimNames.has(c.name), `${field}.name`, "is used by another claim", c.name);
      claimNames.add(c.name);
      v.check(c.path.startsWith("/"), `${field}.path`, "must be an absolute path", c.path);
      v.check(!paths.has(c.path), `${field}.path`, "is mounted twice", c.path);
      paths.add(c.path);
      v.check(
        (parseQuantity(c.size) ?? 0) > 0,
        `${field}.size`,
        "must be a positive quantity like `10Gi`",
        c.size,
      );
      v.oneOf(`${field}.accessMode`, c.accessMode, [
        "ReadWriteOnce",
        "ReadWriteOncePod",
        "ReadOnlyMany",
        "ReadWriteMany",
      ]);
    }
    validateProbes(
      v,
      probes,
      args.port === undefined ? "is required without `port` (or use `Probe.exec`)" : undefined,
    );
    v.done();

    const workload = startWorkload(this, name, "stateful", args);
    const selector = workload.labels.selector;
    this.serviceAccount = workload.serviceAccount;

    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: workload.metadata(),
        spec: {
          clusterIP: "None",
          selector: { ...selector },
          // A headless Service needs no port; one is published when the container has one.
          ...(args.port === undefined
            ? {}
            : { ports: [{ name: "main", port: args.port, targetPort: "main" }] }),
          publishNotReadyAddresses: false,
        },
      },
      workload.childOptions,
    );
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata: workload.metadata(),
        spec: {
          serviceName: name,
          replicas,
          podManagementPolicy: args.podManagementPolicy ?? "OrderedReady",
          selector: { matchLabels: { ...selector } },
          template: workload.podTemplate({
            ...(args.port === undefined
              ? {}
              : { ports: [{ name: "main", containerPort: args.port }], probePort: args.port }),
            probes,
            claimMounts: claims.map((c) => ({ name: c.name, mountPath: c.path })),
            zoneSpread: { mode: args.zoneSpread, mostReplicas: replicas },
          }),
          volumeClaimTemplates: claims.map((c) => ({
            metadata: { name: c.name, labels: { ...selector } },
            spec: {
              accessModes: [c.accessMode ?? "ReadWriteOnce"],
              resources: { requests: { storage: c.size } },
              ...(c.storageClassName === undefined ? {} : { storageClassName: c.storageClassName }),
            },
          })),
        },
      },
      workload.childOptions,
    );
    this.statefulSetName = this.statefulSet.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ statefulSetName: this.statefulSetName });
  }
}
