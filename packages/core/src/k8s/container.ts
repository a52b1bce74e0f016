// One container of a pod: its security context, the inputs of extra (init and
// sidecar) containers, and the checks every container gets.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import type { Validator } from "../internal/validator.js";
import type { EnvFrom } from "./envFrom.js";
import { EnvValue } from "./envValue.js";
import { type ResourceRequirements, validateResources } from "./resources.js";

/**
 * The secure pod defaults, each of which can be relaxed on its own.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 * @see https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
 */
export interface SecurityContextArgs {
  /**
   * Refuse to start a container whose user is root.
   * @default true
   */
  readonly runAsNonRoot?: boolean;
  /**
   * Mount the container's root filesystem read-only (use `Mount.emptyDir` for scratch space).
   * @default true
   */
  readonly readOnlyRootFilesystem?: boolean;
  /**
   * Allow a process to gain more privileges than its parent (setuid binaries).
   * @default false
   */
  readonly allowPrivilegeEscalation?: boolean;
  /**
   * Capabilities to add back after dropping `ALL`, e.g. `["NET_BIND_SERVICE"]`.
   * @default []
   */
  readonly addCapabilities?: readonly string[];
  /**
   * Seccomp profile of the pod.
   * @default "RuntimeDefault"
   */
  readonly seccompProfile?: "RuntimeDefault" | "Unconfined";
  /**
   * UID to run as.
   * @default - the image's user
   */
  readonly runAsUser?: number;
  /**
   * GID to run as.
   * @default - the image's group
   */
  readonly runAsGroup?: number;
  /**
   * Group that owns mounted volumes.
   * @default - none
   */
  readonly fsGroup?: number;
}

/**
 * A container besides the workload's own: an init container or a native
 * sidecar. It gets the same secure defaults, the workload's mounts, and
 * default resources.
 * @see https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
 */
export interface ContainerArgs {
  /** Container name, a DNS label unique in the pod. */
  readonly name: string;
  /** Container image; pin a tag or digest. */
  readonly image: pulumi.Input<string>;
  /**
   * Entrypoint override.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: readonly pulumi.Input<string>[];
  /**
   * Arguments override.
   * @default - the image's CMD
   */
  readonly args?: readonly pulumi.Input<string>[];
  /**
   * Environment variables.
   * @default {}
   */
  readonly env?: Readonly<Record<string, pulumi.Input<string> | EnvValue>>;
  /**
   * Whole ConfigMaps, Secrets or ConfigBundles as environment variables.
   * @default []
   */
  readonly envFrom?: readonly EnvFrom[];
  /**
   * CPU and memory requests and limits.
   * @default DEFAULT_RESOURCES
   */
  readonly resources?: ResourceRequirements;
}

/** What a component adds to the shared container: ports and probes. */
export interface ContainerExtras {
  readonly ports?: k8s.types.input.core.v1.ContainerPort[];
  readonly readinessProbe?: k8s.types.input.core.v1.Probe;
  readonly livenessProbe?: k8s.types.input.core.v1.Probe;
  readonly startupProbe?: k8s.types.input.core.v1.Probe;
  /** Mounts of volumes the pod spec does not hold (StatefulSet claim templates). */
  readonly claimMounts?: readonly k8s.types.input.core.v1.VolumeMount[];
}

/** The image, env and resources of one container; `prefix` is `""` or `initContainers[0].`. */
export function validateContainer(
  v: Validator,
  prefix: string,
  c: Pick<ContainerArgs, "image" | "env" | "resources">,
): void {
  if (isKnown(c.image)) {
    v.check(
      typeof c.image === "string" && c.image.trim() !== "",
      `${prefix}image`,
      "must be a non-empty image reference",
      c.image,
    );
    if (typeof c.image === "string")
      v.check(!/\s/.test(c.image), `${prefix}image`, "must not contain whitespace", c.image);
  }
  for (const [key, value] of Object.entries(c.env ?? {})) {
    v.check(
      /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(key),
      `${prefix}env.${key}`,
      "is not a valid environment variable name",
      key,
    );
    if (value instanceof EnvValue && value.source.from === "bundle") {
      const { bundle, key: bundleKey } = value.source;
      v.check(
        bundle.keys.includes(bundleKey),
        `${prefix}env.${key}`,
        `names a key the bundle does not hold (${bundle.keys.join(", ")})`,
        bundleKey,
      );
    }
  }
  validateResources(v, c.resources ?? {}, prefix);
}
