// Rollout of the Deployment-based workloads (WebService, Worker): strategy,
// progress limits and zone spreading, validated and turned into spec fields.
import type * as k8s from "@pulumi/kubernetes";
import type { Validator } from "../internal/validator.js";

/**
 * How a Deployment replaces its pods.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#strategy
 */
export type RolloutStrategy =
  | {
      readonly type: "RollingUpdate";
      /**
       * Pods above the desired count during a rollout (a number or a percentage).
       * @default "25%"
       */
      readonly maxSurge?: number | string;
      /**
       * Pods below the desired count during a rollout (a number or a percentage).
       * @default "25%"
       */
      readonly maxUnavailable?: number | string;
    }
  | { readonly type: "Recreate" };

/** Rollout controls of the Deployment-based workloads (WebService, Worker). */
export interface RolloutArgs {
  /**
   * How pods are replaced.
   * @default { type: "RollingUpdate" } with Kubernetes' 25 % surge and unavailability
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#strategy
   */
  readonly strategy?: RolloutStrategy;
  /**
   * Seconds a new pod must be ready before it counts as available.
   * @default 0
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#min-ready-seconds
   */
  readonly minReadySeconds?: number;
  /**
   * Seconds a rollout may make no progress before it is reported failed.
   * @default 600
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#progress-deadline-seconds
   */
  readonly progressDeadlineSeconds?: number;
  /**
   * Old ReplicaSets kept for rollback.
   * @default 10
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#revision-history-limit
   */
  readonly revisionHistoryLimit?: number;
  /**
   * Spread pods across zones (`topology.kubernetes.io/zone`): `preferred`
   * schedules anyway when a zone is full, `required` leaves pods pending.
   * @default "preferred" when more than one replica may run, else false
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
   */
  readonly zoneSpread?: "preferred" | "required" | false;
}

/** Validates {@link RolloutArgs}. */
export function validateRollout(v: Validator, args: RolloutArgs): void {
  const strategy = args.strategy;
  if (strategy !== undefined) {
    v.oneOf("strategy.type", strategy.type, ["RollingUpdate", "Recreate"]);
    if (strategy.type === "RollingUpdate") {
      for (const field of ["maxSurge", "maxUnavailable"] as const)
        v.countOrPercent(`strategy.${field}`, strategy[field], "25%");
      v.check(
        !(isZero(strategy.maxSurge) && isZero(strategy.maxUnavailable)),
        "strategy",
        "must allow a surge or an unavailable pod (both are 0)",
        strategy,
      );
    }
  }
  v.integer("minReadySeconds", args.minReadySeconds, 0);
  v.integer("progressDeadlineSeconds", args.progressDeadlineSeconds, 1);
  v.integer("revisionHistoryLimit", args.revisionHistoryLimit, 0);
  if (args.zoneSpread !== undefined && args.zoneSpread !== false)
    v.oneOf("zoneSpread", args.zoneSpread, ["preferred", "required"]);
  if (args.progressDeadlineSeconds !== undefined && args.minReadySeconds !== undefined) {
    v.check(
      args.progressDeadlineSeconds > args.minReadySeconds,
      "progressDeadlineSeconds",
      `must exceed \`minReadySeconds\` (${args.minReadySeconds})`,
      args.progressDeadlineSeconds,
    );
  }
}

function isZero(value: number | string | undefined): boolean {
  return value === 0 || value === "0%";
}

/** The Deployment spec fields of {@link RolloutArgs}. */
export function rolloutSpec(args: RolloutArgs): Partial<k8s.types.input.apps.v1.DeploymentSpec> {
  const s = args.strategy;
  return {
    ...(s === undefined
      ? {}
      : s.type === "Recreate"
        ? { strategy: { type: "Recreate" } }
        : {
            strategy: {
              type: "RollingUpdate",
              rollingUpdate: {
                ...(s.maxSurge === undefined ? {} : { maxSurge: s.maxSurge }),
                ...(s.maxUnavailable === undefined ? {} : { maxUnavailable: s.maxUnavailable }),
              },
            },
          }),
    ...(args.minReadySeconds === undefined ? {} : { minReadySeconds: args.minReadySeconds }),
    ...(args.progressDeadlineSeconds === undefined
      ? {}
      : { progressDeadlineSeconds: args.progressDeadlineSeconds }),
    ...(args.revisionHistoryLimit === undefined ? {} : { revisionHistoryLimit: args.revisionHistoryLimit }),
  };
}

/**
 * The zone topology-spread constraint for `selector`, or none: by default
 * pods spread (preferred) whenever more than one may run.
 */
export function zoneSpread(
  mode: RolloutArgs["zoneSpread"],
  mostReplicas: number,
  selector: Readonly<Record<string, string>>,
): Pick<k8s.types.input.core.v1.PodSpec, "topologySpreadConstraints"> {
  const resolved = mode ?? (mostReplicas > 1 ? "preferred" : false);
  if (resolved === false) return {};
  return {
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: resolved === "required" ? "DoNotSchedule" : "ScheduleAnyway",
        labelSelector: { matchLabels: { ...selector } },
      },
    ],
  };
}
