import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { startWorkload, validateWorkload, type WorkloadArgs } from "./workload.js";

/** Inputs of {@link Job}. */
export interface JobArgs extends WorkloadArgs {
  /**
   * Retries of a failed pod before the Job is marked failed.
   * @default 0 (a failed migration should be looked at, not repeated)
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy
   */
  readonly backoffLimit?: number;
  /**
   * Seconds the Job may run before it is stopped and marked failed.
   * @default 600
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup
   */
  readonly activeDeadlineSeconds?: number;
  /**
   * Whether the container restarts in place on failure or a new pod is started.
   * @default "Never"
   */
  readonly restartPolicy?: "OnFailure" | "Never";
}

/**
 * A one-off Job with the secure workload defaults, e.g. a database migration.
 * `pulumi up` waits until it has succeeded (and fails when it fails), so
 * resources declared with `dependsOn: [job]` — a {@link WebService} running
 * the new schema — roll out only after it finished. A Job's pod template is
 * immutable: changing the image or command replaces the Job, i.e. runs it again.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/
 */
export class Job extends pulumi.ComponentResource {
  readonly job: k8s.batch.v1.Job;
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The Job's name. */
  readonly jobName: pulumi.Output<string>;

  constructor(name: string, args: JobArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:Job", name, {}, opts);
    const v = new Validator("Job", name);
    validateWorkload(v, name, args);
    v.integer("backoffLimit", args.backoffLimit, 0);
    v.integer("activeDeadlineSeconds", args.activeDeadlineSeconds, 1);
    v.oneOf("restartPolicy", args.restartPolicy, ["OnFailure", "Never"]);
    v.done();

    const workload = startWorkload(this, name, "job", args);
    this.serviceAccount = workload.serviceAccount;
    this.job = new k8s.batch.v1.Job(
      name,
      {
        metadata: workload.metadata(),
        spec: {
          backoffLimit: args.backoffLimit ?? 0,
          activeDeadlineSeconds: args.activeDeadlineSeconds ?? 600,
          template: workload.podTemplate({ restartPolicy: args.restartPolicy ?? "Never" }),
        },
      },
      // A Job's template is immutable, and the provider would patch it (rejected
      // by the API server): any change replaces the Job, and as the name is
      // fixed the old one goes first.
      { ...workload.childOptions, replaceOnChanges: ["spec"], deleteBeforeReplace: true },
    );
    this.jobName = this.job.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ jobName: this.jobName });
  }
}
