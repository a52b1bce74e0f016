/**
 * Default requests and limits of a container: what workloads set when the
 * caller gives none, and what a {@link Namespace}'s LimitRange applies to
 * containers that declare nothing, so both agree.
 */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
} as const;
