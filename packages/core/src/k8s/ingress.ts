// The Ingress of a WebService: its inputs, their defaults and their validation
// against the Service's port names.
import type * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";

/** How an Ingress matches a path. @see https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types */
export type PathType = "Prefix" | "Exact" | "ImplementationSpecific";

/** One path an Ingress routes to the Service. */
export interface IngressPathArgs {
  /** The path, starting with `/`. */
  readonly path: string;
  /**
   * How the path matches.
   * @default "Prefix"
   */
  readonly pathType?: PathType;
  /**
   * Name of the Service port the path goes to (`http` or one of `extraPorts`).
   * @default "http"
   */
  readonly port?: string;
}

/** One TLS entry of an Ingress. @see https://kubernetes.io/docs/concepts/services-networking/ingress/#tls */
export interface IngressTlsArgs {
  /** Secret holding the certificate (cert-manager fills it when its annotation is set). */
  readonly secretName: string;
  /**
   * Hosts the certificate covers.
   * @default - every host of the Ingress
   */
  readonly hosts?: readonly string[];
}

/**
 * An Ingress in front of the Service: one or more hosts, each routing the
 * same paths. Controller-specific settings (cert-manager, AWS Load Balancer
 * Controller) go in `annotations`.
 * @see https://kubernetes.io/docs/concepts/services-networking/ingress/
 */
export interface IngressArgs {
  /**
   * Host name the Ingress answers, e.g. `api.example.com`; shorthand for `hosts: [host]`.
   * @default - none; give `host` or `hosts`
   */
  readonly host?: string;
  /**
   * Host names the Ingress answers.
   * @default - `[host]`
   */
  readonly hosts?: readonly string[];
  /**
   * Path prefix routed to the service; shorthand for `paths: [{ path }]`.
   * @default "/"
   */
  readonly path?: string;
  /**
   * Paths routed to the service, on every host.
   * @default - `[{ path, pathType: "Prefix", port: "http" }]`
   */
  readonly paths?: readonly IngressPathArgs[];
  /**
   * Secret holding the TLS certificate for every host; shorthand for `tls: [{ secretName }]`.
   * The URL is `https://` when TLS is set.
   * @default - no TLS
   */
  readonly tlsSecretName?: string;
  /**
   * TLS entries.
   * @default - from `tlsSecretName`, else none
   */
  readonly tls?: readonly IngressTlsArgs[];
  /**
   * IngressClass to use.
   * @default - the cluster's default class
   * @see https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class
   */
  readonly className?: string;
  /**
   * Annotations on the Ingress, e.g. `cert-manager.io/cluster-issuer` or
   * `alb.ingress.kubernetes.io/scheme`.
   * @default {}
   */
  readonly annotations?: Readonly<Record<string, pulumi.Input<string>>>;
}

const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** {@link IngressArgs} with the single-host/path/TLS shorthands folded into the lists. */
export type ResolvedIngress = ReturnType<typeof resolveIngress>;

/** Folds the shorthands (`host`, `path`, `tlsSecretName`) into their lists. */
export function resolveIngress(i: IngressArgs) {
  return {
    hosts: [...(i.hosts ?? (i.host === undefined ? [] : [i.host]))],
    paths: [...(i.paths ?? [{ path: i.path ?? "/" }])],
    tls: [...(i.tls ?? (i.tlsSecretName === undefined ? [] : [{ secretName: i.tlsSecretName }]))],
    className: i.className,
    annotations: i.annotations,
  };
}

/**
 * Validates the Ingress: `raw` as the caller wrote it (shorthand and list
 * together is an error), `ingress` resolved; paths must name one of `portNames`.
 */
export function validateIngress(
  v: Validator,
  raw: IngressArgs | undefined,
  ingress: ResolvedIngress | undefined,
  portNames: ReadonlySet<string>,
): void {
  if (raw) {
    for (const [short, long] of [
      ["host", "hosts"],
      ["path", "paths"],
      ["tlsSecretName", "tls"],
    ] as const) {
      v.check(
        raw[short] === undefined || raw[long] === undefined,
        `ingress.${short}`,
        `must not be set together with \`ingress.${long}\``,
        raw[short],
      );
    }
  }
  if (ingress) {
    v.check(
      ingress.hosts.length > 0,
      "ingress.hosts",
      "must name at least one host (`host` or `hosts`)",
      ingress.hosts,
    );
    for (const [i, host] of ingress.hosts.entries())
      v.check(HOST.test(host), `ingress.hosts[${i}]`, "must be a DNS host name", host);
    for (const [i, p] of ingress.paths.entries()) {
      v.check(p.path.startsWith("/"), `ingress.paths[${i}].path`, "must start with `/`", p.path);
      v.oneOf(`ingress.paths[${i}].pathType`, p.pathType, ["Prefix", "Exact", "ImplementationSpecific"]);
      v.check(
        portNames.has(p.port ?? "http"),
        `ingress.paths[${i}].port`,
        `must name a Service port (${[...portNames].join(", ")})`,
        p.port,
      );
    }
    for (const [i, t] of ingress.tls.entries()) {
      v.dnsLabel(`ingress.tls[${i}].secretName`, t.secretName, 253);
      for (const host of t.hosts ?? [])
        v.check(
          ingress.hosts.includes(host),
          `ingress.tls[${i}].hosts`,
          "must name hosts of the Ingress",
          host,
        );
    }
    v.annotations("ingress.annotations", ingress.annotations);
  }
}
