import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigBundle } from "./configBundle.js";

/**
 * All keys of a ConfigMap, Secret or {@link ConfigBundle} as environment
 * variables, optionally prefixed.
 * @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/#configure-all-key-value-pairs-in-a-configmap-as-container-environment-variables
 */
export class EnvFrom {
  readonly kind: "ConfigMap" | "Secret";
  readonly name: pulumi.Input<string>;
  readonly prefix: string | undefined;

  private constructor(kind: "ConfigMap" | "Secret", name: pulumi.Input<string>, prefix: string | undefined) {
    this.kind = kind;
    this.name = name;
    this.prefix = prefix;
  }

  static configMap(name: pulumi.Input<string>, prefix?: string): EnvFrom {
    return new EnvFrom("ConfigMap", name, prefix);
  }

  static secret(name: pulumi.Input<string>, prefix?: string): EnvFrom {
    return new EnvFrom("Secret", name, prefix);
  }

  /** Every key of `bundle`; the pod template follows the bundle's hashed name. */
  static bundle(bundle: ConfigBundle, prefix?: string): EnvFrom {
    return new EnvFrom(bundle.kind, bundle.objectName, prefix);
  }

  toK8s(): k8s.types.input.core.v1.EnvFromSource {
    const ref = { name: this.name };
    return {
      ...(this.prefix === undefined ? {} : { prefix: this.prefix }),
      ...(this.kind === "Secret" ? { secretRef: ref } : { configMapRef: ref }),
    };
  }
}
