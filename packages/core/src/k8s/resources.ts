// Container requests and limits: their types, their validation, and the
// defaulting that keeps every container bounded.
import type { Validator } from "../internal/validator.js";
import { DEFAULT_RESOURCES } from "./defaults.js";
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

export { DEFAULT_RESOURCES };

/** Validates requests and limits; `prefix` is `""` or `initContainers[0].`. */
export function validateResources(v: Validator, r: ResourceRequirements, prefix = ""): void {
  for (const kind of ["requests", "limits"] as const) {
    for (const res of ["cpu", "memory"] as const) {
      const value = r[kind]?.[res];
      if (value !== undefined && (parseQuantity(value) ?? 0) <= 0) {
        v.fail(
          `${prefix}resources.${kind}.${res}`,
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
      v.fail(`${prefix}resources.requests.${res}`, `must not exceed the limit ${limit}`, request);
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
