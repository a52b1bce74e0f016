import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { objectMetadata } from "./metadata.js";
import { Probe } from "./probe.js";
import { podSpec, validateWorkload, type WorkloadArgs, workloadLabels } from "./workload.js";

/**
 * An Ingress in front of the Service.
 * @see https://kubernetes.io/docs/concepts/services-networking/ingress/
 */
export interface IngressArgs {
  /** Host name the Ingress answers, e.g. `api.example.com`. */
  readonly host: string;
  /**
   * Path prefix routed to the service.
   * @default "/"
   */
  readonly path?: string;
  /**
   * Secret holding the TLS certificate for `host`; the URL is `https://` when set.
   * @default - no TLS
   */
  readonly tlsSecretName?: string;
  /**
   * IngressClass to use.
   * @default - the cluster's default class
   * @see https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class
   */
  readonly className?: string;
}

/**
 * A HorizontalPodAutoscaler on CPU utilisation.
 * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
 */
export interface AutoscalingArgs {
  /** Fewest replicas. */
  readonly minReplicas: number;
  /** Most replicas. */
  readonly maxReplicas: number;
  /**
   * Target average CPU utilisation, in percent of the request.
   * @default 70
   */
  readonly cpuUtilization?: number;
}

/** Inputs of {@link WebService}. */
export interface WebServiceArgs extends WorkloadArgs {
  /**
   * Port the container listens on.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Port the Service exposes.
   * @default 80
   */
  readonly servicePort?: number;
  /**
   * Replicas (the HPA's minimum when `autoscaling` is set).
   * @default 2
   * @see https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
   */
  readonly replicas?: number;
  /**
   * When a pod may receive traffic.
   * @default Probe.tcp() on `port`
   */
  readonly readiness?: Probe;
  /**
   * When a pod is restarted; `false` for none.
   * @default Probe.tcp() on `port`, 10 s initial delay
   */
  readonly liveness?: Probe | false;
  /**
   * Expose the service through an Ingress.
   * @default - no Ingress
   */
  readonly ingress?: IngressArgs;
  /**
   * Scale on CPU with a HorizontalPodAutoscaler.
   * @default - fixed `replicas`
   */
  readonly autoscaling?: AutoscalingArgs;
}

const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * An HTTP service: Deployment + Service, and on request an Ingress and a
 * HorizontalPodAutoscaler; a PodDisruptionBudget whenever more than one
 * replica runs. Pods run with the secure defaults of {@link WorkloadArgs}.
 */
export class WebService extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  readonly ingress?: k8s.networking.v1.Ingress;
  readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
  readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
  /** In-cluster DNS name, `<name>.<namespace>.svc.cluster.local`. */
  readonly dnsName: pulumi.Output<string>;
  /** Public URL through the Ingress, `undefined` without one. */
  readonly url: pulumi.Output<string | undefined>;

  constructor(name: string, args: WebServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:WebService", name, {}, opts);
    const port = args.port ?? 8080;
    const servicePort = args.servicePort ?? 80;
    const replicas = args.autoscaling?.minReplicas ?? args.replicas ?? 2;
    const readiness = args.readiness ?? Probe.tcp();
    const liveness = args.liveness ?? Probe.tcp(undefined, { initialDelaySeconds: 10 });
    const skipAwait = args.skipAwait ?? false;
    const ingress = args.ingress && { ...args.ingress, path: args.ingress.path ?? "/" };
    const cpuUtilization = args.autoscaling?.cpuUtilization ?? 70;

    const v = new Validator("WebService", name);
    validateWorkload(v, name, args);
    v.port("port", args.port);
    v.port("servicePort", args.servicePort);
    v.integer("replicas", args.replicas, 1);
    readiness.validate(v, "readiness");
    if (liveness) liveness.validate(v, "liveness");
    if (ingress) {
      v.check(HOST.test(ingress.host), "ingress.host", "must be a DNS host name", ingress.host);
      v.check(ingress.path.startsWith("/"), "ingress.path", "must start with `/`", ingress.path);
      if (ingress.tlsSecretName !== undefined)
        v.dnsLabel("ingress.tlsSecretName", ingress.tlsSecretName, 253);
    }
    if (args.autoscaling) {
      const { minReplicas, maxReplicas } = args.autoscaling;
      v.integer("autoscaling.minReplicas", minReplicas, 1);
      v.integer("autoscaling.maxReplicas", maxReplicas, 1);
      v.check(
        maxReplicas >= minReplicas,
        "autoscaling.maxReplicas",
        `must be at least \`minReplicas\` (${minReplicas})`,
        maxReplicas,
      );
      v.integer("autoscaling.cpuUtilization", args.autoscaling.cpuUtilization, 1, 100);
    }

    const labels = workloadLabels(name, "web", args);
    const meta = (annotations?: Record<string, string>) =>
      objectMetadata({
        name,
        namespace: args.namespace,
        labels: labels.all,
        skipAwait,
        ...(annotations ? { annotations } : {}),
      });
    const parent = { parent: this };

    this.deployment = new k8s.apps.v1.Deployment(
      `${name}`,
      {
        metadata: meta(),
        spec: {
          replicas,
          selector: { matchLabels: { ...labels.selector } },
          template: {
            metadata: { labels: { ...labels.all } },
            spec: podSpec(name, args, {
              ports: [{ name: "http", containerPort: port }],
              readinessProbe: readiness.toK8s(port),
              ...(liveness ? { livenessProbe: liveness.toK8s(port) } : {}),
            }),
          },
        },
      },
      parent,
    );
    this.service = new k8s.core.v1.Service(
      `${name}`,
      {
        metadata: meta(),
        spec: {
          type: "ClusterIP",
          selector: { ...labels.selector },
          ports: [{ name: "http", port: servicePort, targetPort: "http" }],
        },
      },
      parent,
    );
    if (replicas > 1) {
      this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
        `${name}`,
        { metadata: meta(), spec: { maxUnavailable: 1, selector: { matchLabels: { ...labels.selector } } } },
        parent,
      );
    }
    if (args.autoscaling) {
      this.autoscaler = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${name}`,
        {
          metadata: meta(),
          spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
            minReplicas: args.autoscaling.minReplicas,
            maxReplicas: args.autoscaling.maxReplicas,
            metrics: [
              {
                type: "Resource",
                resource: {
                  name: "cpu",
                  target: { type: "Utilization", averageUtilization: cpuUtilization },
                },
              },
            ],
          },
        },
        parent,
      );
    }
    if (ingress) {
      this.ingress = new k8s.networking.v1.Ingress(
        `${name}`,
        {
          metadata: meta(),
          spec: {
            ...(ingress.className === undefined ? {} : { ingressClassName: ingress.className }),
            rules: [
              {
                host: ingress.host,
                http: {
                  paths: [
                    {
                      path: ingress.path,
                      pathType: "Prefix",
                      backend: { service: { name, port: { name: "http" } } },
                    },
                  ],
                },
              },
            ],
            ...(ingress.tlsSecretName === undefined
              ? {}
              : { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }),
          },
        },
        parent,
      );
    }

    this.dnsName = this.service.metadata.apply(
      (m) => `${name}.${m.namespace ?? "default"}.svc.cluster.local`,
    );
    this.url = ingress
      ? pulumi.output(
          `${ingress.tlsSecretName === undefined ? "http" : "https"}://${ingress.host}${ingress.path}`,
        )
      : pulumi.output(undefined);
    this.registerOutputs({ dnsName: this.dnsName, url: this.url });
  }
}
