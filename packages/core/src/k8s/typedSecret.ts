import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import { Validator } from "../internal/validator.js";
import { FIXED_NAME_OPTIONS, objectMetadata } from "./metadata.js";
import { Namespace } from "./namespace.js";

/** Registry credentials for a `kubernetes.io/dockerconfigjson` Secret. */
export interface DockerConfigArgs {
  /** Registry host, e.g. `ghcr.io`. */
  readonly server: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

/** A certificate and its key for a `kubernetes.io/tls` Secret (PEM). */
export interface TlsArgs {
  readonly certificate: pulumi.Input<string>;
  readonly privateKey: pulumi.Input<string>;
}

/** Inputs of {@link TypedSecret}; give exactly one of `tls`, `dockerConfig` and `data`. */
export interface TypedSecretArgs {
  /**
   * Namespace: a name or a {@link Namespace} component.
   * @default - the provider's namespace
   */
  readonly namespace?: pulumi.Input<string> | Namespace;
  /**
   * A TLS certificate (`kubernetes.io/tls`), e.g. for an Ingress's `tls`.
   * @default - not a TLS Secret
   * @see https://kubernetes.io/docs/concepts/configuration/secret/#tls-secrets
   */
  readonly tls?: TlsArgs;
  /**
   * Registry credentials (`kubernetes.io/dockerconfigjson`), for a workload's `imagePullSecrets`.
   * @default - not a registry Secret
   * @see https://kubernetes.io/docs/concepts/configuration/secret/#docker-config-secrets
   */
  readonly dockerConfig?: DockerConfigArgs;
  /**
   * Keys and values of an `Opaque` Secret.
   * @default - not an Opaque Secret
   */
  readonly data?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * A Kubernetes Secret of a checked type. Values are Pulumi secrets, so they
 * are encrypted in the stack's state — but they are in it. To keep a value
 * out of Pulumi state entirely, let the cluster fetch it: the External
 * Secrets Operator (an `ExternalSecret` that names the entry in your secret
 * store) or the Secrets Store CSI driver; see the package README.
 */
export class TypedSecret extends pulumi.ComponentResource {
  readonly secret: k8s.core.v1.Secret;
  /** The Secret's name (equal to the component name), for `imagePullSecrets`, `Mount.secret` or an Ingress's TLS. */
  readonly secretName: pulumi.Output<string>;

  constructor(name: string, args: TypedSecretArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:TypedSecret", name, {}, opts);
    const kinds = (["tls", "dockerConfig", "data"] as const).filter((k) => args[k] !== undefined);

    const v = new Validator("TypedSecret", name);
    v.dnsLabel("name", name, 253);
    v.check(
      kinds.length === 1,
      "tls",
      "exactly one of `tls`, `dockerConfig` and `data` must be given",
      kinds,
    );
    if (args.dockerConfig) {
      v.check(
        /^[a-z0-9.-]+(:\d+)?(\/.*)?$/i.test(args.dockerConfig.server),
        "dockerConfig.server",
        "must be a registry host like `ghcr.io`",
        args.dockerConfig.server,
      );
    }
    if (args.tls && isKnown(args.tls.certificate)) {
      v.check(
        String(args.tls.certificate).includes("-----BEGIN CERTIFICATE-----"),
        "tls.certificate",
        "must be a PEM certificate",
        "<certificate>",
      );
    }
    for (const key of Object.keys(args.data ?? {})) {
      v.check(
        /^[-._a-zA-Z0-9]+$/.test(key),
        `data.${key}`,
        "key must consist of letters, digits, `-`, `_` or `.`",
        key,
      );
    }
    v.done();

    const namespaced = args.namespace instanceof Namespace;
    const namespace = namespaced
      ? (args.namespace as Namespace).namespaceName
      : (args.namespace as pulumi.Input<string> | undefined);
    let type: string;
    let stringData: pulumi.Input<Record<string, pulumi.Input<string>>>;
    if (args.tls) {
      type = "kubernetes.io/tls";
      stringData = { "tls.crt": args.tls.certificate, "tls.key": args.tls.privateKey };
    } else if (args.dockerConfig) {
      type = "kubernetes.io/dockerconfigjson";
      const { server, username, password } = args.dockerConfig;
      stringData = {
        ".dockerconfigjson": pulumi.all([username, password]).apply(([u, p]) =>
          JSON.stringify({
            auths: {
              [server]: { username: u, password: p, auth: Buffer.from(`${u}:${p}`).toString("base64") },
            },
          }),
        ),
      };
    } else {
      type = "Opaque";
      stringData = { ...args.data };
    }
    this.secret = new k8s.core.v1.Secret(
      name,
      {
        metadata: objectMetadata({
          name,
          namespace,
          labels: { "app.kubernetes.io/managed-by": "driftless" },
          skipAwait: false,
        }),
        type,
        stringData: pulumi.secret(stringData),
      },
      { parent: this, dependsOn: namespaced ? [args.namespace as Namespace] : [], ...FIXED_NAME_OPTIONS },
    );
    this.secretName = this.secret.metadata.apply((m) => m.name ?? name);
    this.registerOutputs({ secretName: this.secretName });
  }
}
