import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/** Annotation that tells the Pulumi Kubernetes provider not to wait for readiness. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/**
 * Annotation that makes the Pulumi Kubernetes provider force server-side apply
 * conflicts: a field the program declares is taken back from whichever field
 * manager changed it (`kubectl edit`, `kubectl scale`, another tool), so the
 * commit wins, as in any GitOps controller. Without it the provider refuses to
 * correct such an edit ("conflict detected"). Fields the program does not
 * declare stay with their manager.
 * @see https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/
 */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * The resource option every child with a fixed `metadata.name` carries: its
 * replacement is the same object (same kind, namespace and name), so the old
 * one must go first. Created first, the replacement would only update the
 * existing object, and deleting the replaced one would then delete it
 * (pulumi-kubernetes#4522); the engine is left no room to choose.
 */
export const FIXED_NAME_OPTIONS = { deleteBeforeReplace: true } as const;

/** Inputs of {@link objectMetadata}. */
export interface MetadataOptions {
  readonly name: pulumi.Input<string>;
  readonly namespace: pulumi.Input<string> | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly skipAwait: boolean;
  readonly annotations?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * Metadata for one object a component creates: a fixed name (so DNS names and
 * references are predictable), the namespace when given, labels, the
 * patch-force annotation, and the skip-await annotation when asked for.
 * @see https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/#await-behavior
 */
export function objectMetadata(o: MetadataOptions): k8s.types.input.meta.v1.ObjectMeta {
  const annotations = {
    ...o.annotations,
    [PATCH_FORCE_ANNOTATION]: "true",
    ...(o.skipAwait ? { [SKIP_AWAIT_ANNOTATION]: "true" } : {}),
  };
  return {
    name: o.name,
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    labels: { ...o.labels },
    annotations,
  };
}
