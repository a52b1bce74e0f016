import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { objectMetadata } from "./metadata.js";
import type { Probe } from "./probe.js";
import { type RolloutArgs, rolloutSpec, validateRollout, zoneSpread } from "./rollout.js";
import {
  ownServiceAccount,
  placement,
  podMetadata,
  podSpec,
  validateWorkload,
  type WorkloadArgs,
  workloadLabels,
} from "./workload.js";

/** Inputs of {@link Worker}. */
export interface WorkerArgs extends WorkloadArgs, RolloutArgs {
  /**
   * Replicas.
   * @default 1
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
   */
  readonly replicas?: number;
  /**
   * When a pod is restarted; `false` for none. A Worker has no container
   * port, so an HTTP or TCP probe must name its port (or use `Probe.exec`).
   * @default false
   */
  readonly liveness?: Probe | false;
  /**
   * When a pod counts as ready (rollouts wait for it); `false` for none.
   * An HTTP or TCP probe must name its port.
   * @default false
   */
  readonly readiness?: Probe | false;
  /**
   * Holds off the other probes until the process has started.
   * @default - no startup probe
   */
  readonly startup?: Probe;
}

/**
 * A background process without a Service, e.g. a queue consumer: one
 * Deployment with the same secure pod defaults as {@link WebService}.
 */
export class Worker extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The Deployment's name. */
  readonly deploymentName: pulumi.Output<string>;

  constructor(name: string, args: WorkerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:Worker", name, {}, opts);
    const replicas = args.replicas ?? 1;
    const probes = {
      liveness: args.liveness || undefined,
      readiness: args.readiness || undefined,
      startup: args.startup,
    };

    const v = new Validator("Worker", name);
    validateWorkload(v, name, args);
    validateRollout(v, args);
    v.integer("replicas", args.replicas, 0);
    for (const [field, probe] of Object.entries(probes)) {
      if (!probe) continue;
      probe.validate(v, field);
      v.check(
        !probe.needsPort || probe.port !== undefined,
        `${field}.port`,
        "is required: a Worker has no container port (or use `Probe.exec`)",
        undefined,
      );
    }
    v.done();

    const labels = workloadLabels(name, "worker", args);
    const { namespace, dependsOn } = placement(args);
    const identity = ownServiceAccount(
      this,
      name,
      args,
      objectMetadata({
        name,
        namespace,
        labels: labels.all,
        skipAwait: args.skipAwait ?? false,
        ...(args.annotations ? { annotations: args.annotations } : {}),
      }),
      dependsOn,
    );
    this.serviceAccount = identity.serviceAccount;
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: objectMetadata({
          name,
          namespace,
          labels: labels.all,
          skipAwait: args.skipAwait ?? false,
          ...(args.annotations ? { annotations: args.annotations } : {}),
        }),
        spec: {
          replicas,
          ...rolloutSpec(args),
          selector: { matchLabels: { ...labels.selector } },
          template: {
            metadata: podMetadata(labels, args),
            spec: {
              ...podSpec(name, identity.args, {
                ...(probes.liveness ? { livenessProbe: probes.liveness.toK8s(0) } : {}),
                ...(probes.readiness ? { readinessProbe: probes.readiness.toK8s(0) } : {}),
                ...(probes.startup ? { startupProbe: probes.startup.toK8s(0) } : {}),
              }),
              ...zoneSpread(args.zoneSpread, replicas, labels.selector),
            },
          },
        },
      },
      { parent: this, dependsOn },
    );
    this.deploymentName = this.deployment.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ deploymentName: this.deploymentName });
  }
}
