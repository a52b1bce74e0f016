import type * as k8s from "@pulumi/kubernetes";
import type { Validator } from "../internal/validator.js";

/** Timing of a probe. */
export interface ProbeOptions {
  /**
   * Seconds after the container starts before the first probe.
   * @default 0
   */
  readonly initialDelaySeconds?: number;
  /**
   * Seconds between probes.
   * @default 10
   */
  readonly periodSeconds?: number;
  /**
   * Seconds after which one probe counts as failed.
   * @default 1
   */
  readonly timeoutSeconds?: number;
  /**
   * Consecutive failures before the probe is considered failed.
   * @default 3
   */
  readonly failureThreshold?: number;
}

/**
 * A startup, readiness or liveness check: an HTTP GET of a path, a TCP
 * connect, or a command run in the container. Without a port an HTTP or TCP
 * probe targets the workload's container port.
 * @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
 */
export class Probe {
  readonly kind: "http" | "tcp" | "exec";
  readonly path: string | undefined;
  readonly port: number | undefined;
  readonly command: readonly string[] | undefined;
  readonly options: ProbeOptions;

  private constructor(
    kind: "http" | "tcp" | "exec",
    path: string | undefined,
    port: number | undefined,
    options: ProbeOptions,
    command?: readonly string[],
  ) {
    this.kind = kind;
    this.path = path;
    this.port = port;
    this.options = options;
    this.command = command;
  }

  /** An HTTP GET of `path`; healthy on a 2xx or 3xx answer. */
  static http(path: string, port?: number, options: ProbeOptions = {}): Probe {
    return new Probe("http", path, port, options);
  }

  /** A TCP connect to `port`. */
  static tcp(port?: number, options: ProbeOptions = {}): Probe {
    return new Probe("tcp", undefined, port, options);
  }

  /** Runs `command` in the container; healthy when it exits 0. Needs no port. */
  static exec(command: readonly string[], options: ProbeOptions = {}): Probe {
    return new Probe("exec", undefined, undefined, options, [...command]);
  }

  /** Whether the probe needs a port (HTTP and TCP probes do). */
  get needsPort(): boolean {
    return this.kind !== "exec";
  }

  /** Records through `v` when the probe's path, port or timing is out of range. */
  validate(v: Validator, field: string): void {
    if (this.path !== undefined)
      v.check(this.path.startsWith("/"), `${field}.path`, "must start with `/`", this.path);
    if (this.command !== undefined)
      v.check(this.command.length > 0, `${field}.command`, "must hold a command", this.command);
    v.port(`${field}.port`, this.port);
    v.integer(`${field}.initialDelaySeconds`, this.options.initialDelaySeconds, 0);
    v.integer(`${field}.periodSeconds`, this.options.periodSeconds, 1);
    v.integer(`${field}.timeoutSeconds`, this.options.timeoutSeconds, 1);
    v.integer(`${field}.failureThreshold`, this.options.failureThreshold, 1);
  }

  /** The Kubernetes probe, aimed at `defaultPort` unless the probe names its own. */
  toK8s(defaultPort: number): k8s.types.input.core.v1.Probe {
    const port = this.port ?? defaultPort;
    return {
      ...(this.kind === "http"
        ? { httpGet: { path: this.path, port } }
        : this.kind === "exec"
          ? { exec: { command: [...(this.command ?? [])] } }
          : { tcpSocket: { port } }),
      initialDelaySeconds: this.options.initialDelaySeconds ?? 0,
      periodSeconds: this.options.periodSeconds ?? 10,
      timeoutSeconds: this.options.timeoutSeconds ?? 1,
      failureThreshold: this.options.failureThreshold ?? 3,
    };
  }
}

/**
 * Validates each of `probes` under its field name. With `missingPort` (the
 * container has no port to aim at) an HTTP or TCP probe must name its own
 * port, and `missingPort` says why it is required.
 */
export function validateProbes(
  v: Validator,
  probes: Readonly<Record<string, Probe | undefined>>,
  missingPort?: string,
): void {
  for (const [field, probe] of Object.entries(probes)) {
    if (!probe) continue;
    probe.validate(v, field);
    if (missingPort !== undefined)
      v.check(!probe.needsPort || probe.port !== undefined, `${field}.port`, missingPort, undefined);
  }
}
