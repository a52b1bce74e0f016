import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { shortHash } from "../internal/hash.js";
import { isKnown } from "../internal/inputs.js";
import { Validator } from "../internal/validator.js";
import { objectMetadata } from "./metadata.js";

/** Inputs of {@link ConfigBundle}. */
export interface ConfigBundleArgs {
  /**
   * Keys and values. Values may be Outputs; the name then follows once they resolve.
   * @see https://kubernetes.io/docs/concepts/configuration/configmap/
   */
  readonly data: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * Store the data in a Secret (values are kept as Pulumi secrets) instead of a ConfigMap.
   * @default false
   * @see https://kubernetes.io/docs/concepts/configuration/secret/
   */
  readonly secret?: boolean;
  /**
   * Namespace of the object.
   * @default - the provider's namespace
   */
  readonly namespace?: pulumi.Input<string>;
  /**
   * Extra labels on the object.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Do not wait for the object to become ready (clusters without nodes).
   * @default false
   */
  readonly skipAwait?: boolean;
}

/**
 * A ConfigMap or Secret whose name carries a hash of its content
 * (`<name>-<8 hex of sha256>`). A workload that consumes it (through
 * `EnvFrom.bundle`, `EnvValue.bundle` or `Mount.bundle`) references that
 * name in its pod template, so changing the content rolls the workload.
 */
export class ConfigBundle extends pulumi.ComponentResource {
  /** The Kubernetes object's name, `<name>-<hash>`. */
  readonly objectName: pulumi.Output<string>;
  /** `ConfigMap` or `Secret`. */
  readonly kind: "ConfigMap" | "Secret";
  /** The keys the bundle holds, known at declaration time. */
  readonly keys: readonly string[];
  /** The created ConfigMap (when `secret` is false). */
  readonly configMap?: k8s.core.v1.ConfigMap;
  /** The created Secret (when `secret` is true). */
  readonly secret?: k8s.core.v1.Secret;

  constructor(name: string, args: ConfigBundleArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:ConfigBundle", name, {}, opts);
    const secret = args.secret ?? false;
    const keys = Object.keys(args.data).sort();

    const v = new Validator("ConfigBundle", name);
    v.dnsLabel("name", name, 54); // 63 minus "-" and 8 hash digits
    v.check(keys.length > 0, "data", "must hold at least one key", args.data);
    for (const key of keys) {
      v.check(
        /^[-._a-zA-Z0-9]+$/.test(key),
        `data.${key}`,
        "key must consist of letters, digits, `-`, `_` or `.`",
        key,
      );
      const value = args.data[key];
      if (isKnown(value)) v.check(typeof value === "string", `data.${key}`, "must be a string", value);
    }

    v.done();

    // Hash keys and values together so renaming a key also changes the name;
    // JSON of sorted entries keeps the hash independent of declaration order.
    const content = pulumi.all(keys.map((k) => args.data[k] as pulumi.Input<string>));
    // The 8 hex digits of a hash reveal nothing usable about secret values, so the
    // name is not marked secret (a secret name would hide it in every diff).
    this.objectName = pulumi.unsecret(
      content.apply((values) => `${name}-${shortHash(JSON.stringify(keys.map((k, i) => [k, values[i]])))}`),
    );
    this.kind = secret ? "Secret" : "ConfigMap";
    this.keys = keys;

    const metadata = objectMetadata({
      name: this.objectName,
      namespace: args.namespace,
      labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "driftless", ...args.labels },
      skipAwait: args.skipAwait ?? false,
    });
    // Immutable: a changed bundle is a new object, so nothing edits one in place.
    if (secret) {
      this.secret = new k8s.core.v1.Secret(
        name,
        { metadata, immutable: true, stringData: pulumi.secret(pulumi.output(args.data)) },
        { parent: this },
      );
    } else {
      this.configMap = new k8s.core.v1.ConfigMap(
        name,
        { metadata, immutable: true, data: args.data as Record<string, pulumi.Input<string>> },
        { parent: this },
      );
    }
    this.registerOutputs({ objectName: this.objectName });
  }
}
