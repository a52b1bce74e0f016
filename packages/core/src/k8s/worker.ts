import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { objectMetadata } from "./metadata.js";
import type { Probe } from "./probe.js";
import { podSpec, validateWorkload, type WorkloadArgs, workloadLabels } from "./workload.js";

/** Inputs of {@link Worker}. */
export interface WorkerArgs extends WorkloadArgs {
  /**
   * Replicas.
   * @default 1
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
   */
  readonly replicas?: number;
  /**
   * When a pod is restarted; probes need a port, so give one explicitly.
   * @default - no liveness probe
   */
  readonly liveness?: Probe;
}

/**
 * A background process without a Service, e.g. a queue consumer: one
 * Deployment with the same secure pod defaults as {@link WebService}.
 */
export class Worker extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: WorkerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:Worker", name, {}, opts);
    const replicas = args.replicas ?? 1;

    const v = new Validator("Worker", name);
    validateWorkload(v, name, args);
    v.integer("replicas", args.replicas, 0);
    if (args.liveness) {
      args.liveness.validate(v, "liveness");
      v.check(
        args.liveness.port !== undefined,
        "liveness.port",
        "is required: a Worker has no container port",
        undefined,
      );
    }

    const labels = workloadLabels(name, "worker", args);
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: objectMetadata({
          name,
          namespace: args.namespace,
          labels: labels.all,
          skipAwait: args.skipAwait ?? false,
        }),
        spec: {
          replicas,
          selector: { matchLabels: { ...labels.selector } },
          template: {
            metadata: { labels: { ...labels.all } },
            spec: podSpec(name, args, args.liveness ? { livenessProbe: args.liveness.toK8s(0) } : {}),
          },
        },
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
