import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/** Annotation that tells the Pulumi Kubernetes provider not to wait for readiness. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

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
 * references are predictable), the namespace when given, labels, and the
 * skip-await annotation when asked for.
 * @see https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/#await-behavior
 */
export function objectMetadata(o: MetadataOptions): k8s.types.input.meta.v1.ObjectMeta {
  const annotations = { ...o.annotations, ...(o.skipAwait ? { [SKIP_AWAIT_ANNOTATION]: "true" } : {}) };
  return {
    name: o.name,
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    labels: { ...o.labels },
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}
