import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigBundle } from "./configBundle.js";

type Source =
  | { readonly from: "configMap" | "secret"; readonly name: pulumi.Input<string>; readonly key: string }
  | { readonly from: "bundle"; readonly bundle: ConfigBundle; readonly key: string }
  | { readonly from: "field"; readonly fieldPath: string };

/**
 * An environment variable's value taken from somewhere other than a literal:
 * one key of a ConfigMap, Secret or {@link ConfigBundle}, or a pod field.
 * The factories are named like {@link EnvFrom}'s (`EnvValue.secret`, `EnvFrom.secret`).
 * @see https://kubernetes.io/docs/tasks/inject-data-application/distribute-credentials-secure/#define-container-environment-variables-using-secret-data
 */
export class EnvValue {
  readonly source: Source;

  private constructor(source: Source) {
    this.source = source;
  }

  /** Key `key` of the ConfigMap named `name`. */
  static configMap(name: pulumi.Input<string>, key: string): EnvValue {
    return new EnvValue({ from: "configMap", name, key });
  }

  /** Key `key` of the Secret named `name`. */
  static secret(name: pulumi.Input<string>, key: string): EnvValue {
    return new EnvValue({ from: "secret", name, key });
  }

  /** Key `key` of a {@link ConfigBundle}; the pod template follows the bundle's hashed name. */
  static bundle(bundle: ConfigBundle, key: string): EnvValue {
    return new EnvValue({ from: "bundle", bundle, key });
  }

  /** A pod field through the downward API, e.g. `metadata.name` or `status.podIP`. */
  static field(fieldPath: string): EnvValue {
    return new EnvValue({ from: "field", fieldPath });
  }

  /** The Kubernetes `valueFrom`. */
  toValueFrom(): k8s.types.input.core.v1.EnvVarSource {
    const s = this.source;
    switch (s.from) {
      case "configMap":
        return { configMapKeyRef: { name: s.name, key: s.key } };
      case "secret":
        return { secretKeyRef: { name: s.name, key: s.key } };
      case "bundle":
        return s.bundle.kind === "Secret"
          ? { secretKeyRef: { name: s.bundle.objectName, key: s.key } }
          : { configMapKeyRef: { name: s.bundle.objectName, key: s.key } };
      case "field":
        return { fieldRef: { fieldPath: s.fieldPath } };
    }
  }
}
