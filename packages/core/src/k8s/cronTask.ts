import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { cronProblem } from "./cron.js";
import { startWorkload, validateWorkload, type WorkloadArgs } from "./workload.js";

/** Inputs of {@link CronTask}. */
export interface CronTaskArgs extends WorkloadArgs {
  /**
   * Cron schedule: five fields with ranges, steps, lists and names, or a macro like `@daily`.
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
   */
  readonly schedule: string;
  /**
   * Time zone of the schedule (IANA name).
   * @default - the controller's time zone (UTC on most clusters)
   */
  readonly timeZone?: string;
  /**
   * What to do when a run is due while the previous one still runs.
   * @default "Forbid"
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy
   */
  readonly concurrencyPolicy?: "Allow" | "Forbid" | "Replace";
  /**
   * Finished successful Jobs kept.
   * @default 3
   */
  readonly successfulJobsHistoryLimit?: number;
  /**
   * Finished failed Jobs kept.
   * @default 1
   */
  readonly failedJobsHistoryLimit?: number;
  /**
   * Retries of a failed run before the Job is marked failed.
   * @default 2
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy
   */
  readonly backoffLimit?: number;
  /**
   * Seconds a run may take before it is stopped.
   * @default - unlimited
   */
  readonly activeDeadlineSeconds?: number;
  /**
   * Whether the container restarts in place on failure or a new pod is started.
   * @default "Never"
   */
  readonly restartPolicy?: "OnFailure" | "Never";
  /**
   * Create the CronJob suspended.
   * @default false
   */
  readonly suspend?: boolean;
}

/** A scheduled job: one CronJob whose pods have the secure workload defaults. */
export class CronTask extends pulumi.ComponentResource {
  readonly cronJob: k8s.batch.v1.CronJob;
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The CronJob's name. */
  readonly cronJobName: pulumi.Output<string>;

  constructor(name: string, args: CronTaskArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:CronTask", name, {}, opts);

    const v = new Validator("CronTask", name);
    validateWorkload(v, name, args);
    // CronJob names are limited to 52 characters: the controller appends an 11-character suffix.
    if (name.length > 52) v.fail("name", "must be at most 52 characters", name);
    const problem = cronProblem(args.schedule);
    if (problem !== undefined) v.fail("schedule", problem, args.schedule);
    v.oneOf("concurrencyPolicy", args.concurrencyPolicy, ["Allow", "Forbid", "Replace"]);
    v.oneOf("restartPolicy", args.restartPolicy, ["OnFailure", "Never"]);
    v.integer("successfulJobsHistoryLimit", args.successfulJobsHistoryLimit, 0);
    v.integer("failedJobsHistoryLimit", args.failedJobsHistoryLimit, 0);
    v.integer("backoffLimit", args.backoffLimit, 0);
    v.integer("activeDeadlineSeconds", args.activeDeadlineSeconds, 1);
    if (args.timeZone !== undefined) {
      v.check(
        /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(args.timeZone),
        "timeZone",
        "must be an IANA time zone like `Europe/Berlin`",
        args.timeZone,
      );
    }

    v.done();

    const workload = startWorkload(this, name, "cron", args);
    this.serviceAccount = workload.serviceAccount;
    this.cronJob = new k8s.batch.v1.CronJob(
      name,
      {
        metadata: workload.metadata(),
        spec: {
          schedule: args.schedule.trim(),
          ...(args.timeZone === undefined ? {} : { timeZone: args.timeZone }),
          concurrencyPolicy: args.concurrencyPolicy ?? "Forbid",
          successfulJobsHistoryLimit: args.successfulJobsHistoryLimit ?? 3,
          failedJobsHistoryLimit: args.failedJobsHistoryLimit ?? 1,
          suspend: args.suspend ?? false,
          jobTemplate: {
            metadata: { labels: { ...workload.labels.all } },
            spec: {
              backoffLimit: args.backoffLimit ?? 2,
              ...(args.activeDeadlineSeconds === undefined
                ? {}
                : { activeDeadlineSeconds: args.activeDeadlineSeconds }),
              template: workload.podTemplate({ restartPolicy: args.restartPolicy ?? "Never" }),
            },
          },
        },
      },
      workload.childOptions,
    );
    this.cronJobName = this.cronJob.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ cronJobName: this.cronJobName });
  }
}
