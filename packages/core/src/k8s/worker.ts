import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { type Probe, validateProbes } from "./probe.js";
import { type RolloutArgs, rolloutSpec, validateRollout } from "./rollout.js";
import { startWorkload, validateWorkload, type WorkloadArgs } from "./workload.js";

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
    validateProbes(v, probes, "is required: a Worker has no container port (or use `Probe.exec`)");
    v.done();

    const workload = startWorkload(this, name, "worker", args);
    this.serviceAccount = workload.serviceAccount;
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: workload.metadata(),
        spec: {
          replicas,
          ...rolloutSpec(args),
          selector: { matchLabels: { ...workload.labels.selector } },
          template: workload.podTemplate({
            probes,
            zoneSpread: { mode: args.zoneSpread, mostReplicas: replicas },
          }),
        },
      },
      workload.childOptions,
    );
    this.deploymentName = this.deployment.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ deploymentName: this.deploymentName });
  }
}
