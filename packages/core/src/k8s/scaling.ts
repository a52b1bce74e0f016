// Scaling inputs of a WebService: the HorizontalPodAutoscaler and the
// PodDisruptionBudget, and their validation.
import type * as k8s from "@pulumi/kubernetes";
import type { Validator } from "../internal/validator.js";

/**
 * A HorizontalPodAutoscaler (autoscaling/v2). The Deployment then carries no
 * `replicas` (the HPA owns it), so `up` after a scale-out does not fight it.
 * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
 */
export interface AutoscalingArgs {
  /** Fewest replicas. */
  readonly minReplicas: number;
  /** Most replicas. */
  readonly maxReplicas: number;
  /**
   * Target average CPU utilisation, in percent of the request; above 100 is valid
   * (pods may use more than they request, up to the limit). `false` for no CPU metric.
   * @default 70
   */
  readonly cpuUtilization?: number | false;
  /**
   * Target average memory utilisation, in percent of the request.
   * @default - no memory metric
   */
  readonly memoryUtilization?: number;
  /**
   * More metrics (pods, object, external), as Kubernetes writes them.
   * @default []
   * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/#autoscaling-on-multiple-metrics-and-custom-metrics
   */
  readonly metrics?: readonly k8s.types.input.autoscaling.v2.MetricSpec[];
  /**
   * Scale-up and scale-down behaviour (stabilisation windows, policies).
   * @default - Kubernetes' behaviour (300 s scale-down stabilisation)
   * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#configurable-scaling-behavior
   */
  readonly behavior?: k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerBehavior;
}

/**
 * The PodDisruptionBudget: give one of the two fields.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/
 */
export interface DisruptionBudgetArgs {
  /**
   * Pods that may be down during a voluntary disruption (count or percentage).
   * @default 1
   */
  readonly maxUnavailable?: number | string;
  /**
   * Pods that must stay up (count or percentage).
   * @default - unset (`maxUnavailable` applies)
   */
  readonly minAvailable?: number | string;
}

/**
 * Validates `autoscaling`; `cpuUtilization` is its resolved value and
 * `replicas` the fixed count, which must not be set beside an autoscaler.
 */
export function validateAutoscaling(
  v: Validator,
  autoscaling: AutoscalingArgs,
  cpuUtilization: number | false,
  replicas: number | undefined,
): void {
  const { minReplicas, maxReplicas } = autoscaling;
  v.check(
    replicas === undefined,
    "replicas",
    "must not be set together with `autoscaling` (its `minReplicas` and `maxReplicas` decide)",
    replicas,
  );
  v.integer("autoscaling.minReplicas", minReplicas, 1);
  v.integer("autoscaling.maxReplicas", maxReplicas, 1);
  v.check(
    maxReplicas >= minReplicas,
    "autoscaling.maxReplicas",
    `must be at least \`minReplicas\` (${minReplicas})`,
    maxReplicas,
  );
  if (cpuUtilization !== false) v.integer("autoscaling.cpuUtilization", cpuUtilization, 1);
  v.integer("autoscaling.memoryUtilization", autoscaling.memoryUtilization, 1);
  v.check(
    cpuUtilization !== false ||
      autoscaling.memoryUtilization !== undefined ||
      (autoscaling.metrics?.length ?? 0) > 0,
    "autoscaling",
    "needs at least one metric (`cpuUtilization`, `memoryUtilization` or `metrics`)",
    autoscaling,
  );
}

/** Validates a PodDisruptionBudget: a count or a percentage, one of the two fields. */
export function validateDisruptionBudget(v: Validator, disruptionBudget: DisruptionBudgetArgs): void {
  const { maxUnavailable, minAvailable } = disruptionBudget;
  v.check(
    (maxUnavailable === undefined) !== (minAvailable === undefined) ||
      (maxUnavailable === undefined && minAvailable === undefined),
    "disruptionBudget",
    "must set `maxUnavailable` or `minAvailable`, not both",
    disruptionBudget,
  );
  for (const field of ["maxUnavailable", "minAvailable"] as const)
    v.countOrPercent(`disruptionBudget.${field}`, disruptionBudget[field], "50%");
}
