import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { type IngressArgs, resolveIngress, validateIngress } from "./ingress.js";
import { Probe, validateProbes } from "./probe.js";
import { type RolloutArgs, rolloutSpec, validateRollout } from "./rollout.js";
import {
  type AutoscalingArgs,
  type DisruptionBudgetArgs,
  validateAutoscaling,
  validateDisruptionBudget,
} from "./scaling.js";
import { startWorkload, validateWorkload, type WorkloadArgs } from "./workload.js";

/** A Service port besides the main `http` one. */
export interface ServicePortArgs {
  /** Port name (a DNS label, at most 15 characters). */
  readonly name: string;
  /** Port the Service exposes. */
  readonly port: number;
  /**
   * Port the container listens on.
   * @default - `port`
   */
  readonly containerPort?: number;
  /**
   * Protocol.
   * @default "TCP"
   */
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  /**
   * Node port, for `serviceType` `NodePort` or `LoadBalancer`.
   * @default - assigned by Kubernetes
   */
  readonly nodePort?: number;
}

/** Inputs of {@link WebService}. */
export interface WebServiceArgs extends WorkloadArgs, RolloutArgs {
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
   * More ports on the container and the Service.
   * @default []
   */
  readonly extraPorts?: readonly ServicePortArgs[];
  /**
   * How the Service is exposed.
   * @default "ClusterIP"
   * @see https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
   */
  readonly serviceType?: "ClusterIP" | "NodePort" | "LoadBalancer";
  /**
   * Annotations on the Service, e.g. `service.beta.kubernetes.io/aws-load-balancer-scheme`.
   * @default {}
   */
  readonly serviceAnnotations?: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * Fixed replica count. Not allowed together with `autoscaling`, whose
   * `minReplicas`/`maxReplicas` decide then.
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
   * Holds off readiness and liveness until the app has started (slow starters).
   * @default - no startup probe
   * @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#define-startup-probes
   */
  readonly startup?: Probe;
  /**
   * Expose the service through an Ingress.
   * @default - no Ingress
   */
  readonly ingress?: IngressArgs;
  /**
   * Scale with a HorizontalPodAutoscaler.
   * @default - fixed `replicas`
   */
  readonly autoscaling?: AutoscalingArgs;
  /**
   * The PodDisruptionBudget; `false` for none.
   * @default `{ maxUnavailable: 1 }` when at least two replicas run (`replicas`,
   * or `autoscaling.minReplicas`), else none
   */
  readonly disruptionBudget?: DisruptionBudgetArgs | false;
}

/**
 * An HTTP service: Deployment + Service, and on request an Ingress and a
 * HorizontalPodAutoscaler; a PodDisruptionBudget whenever at least two
 * replicas run, and pods spread across zones whenever more than one may run.
 * Pods run with the secure defaults of {@link WorkloadArgs}.
 */
export class WebService extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  /** The workload's own ServiceAccount, when `serviceAccount` asked for one. */
  readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  readonly service: k8s.core.v1.Service;
  readonly ingress?: k8s.networking.v1.Ingress;
  readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
  readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
  /** In-cluster DNS name, `<name>.<namespace>.svc.cluster.local`. */
  readonly dnsName: pulumi.Output<string>;
  /** Public URL through the Ingress (its first host and path), `undefined` without one. */
  readonly url: pulumi.Output<string | undefined>;

  constructor(name: string, args: WebServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:WebService", name, {}, opts);
    const port = args.port ?? 8080;
    const servicePort = args.servicePort ?? 80;
    const extraPorts = args.extraPorts ?? [];
    const serviceType = args.serviceType ?? "ClusterIP";
    const autoscaling = args.autoscaling;
    const replicas = autoscaling ? undefined : (args.replicas ?? 2);
    const fewestReplicas = autoscaling?.minReplicas ?? replicas ?? 2;
    const mostReplicas = autoscaling?.maxReplicas ?? replicas ?? 2;
    const probes = {
      readiness: args.readiness ?? Probe.tcp(),
      liveness: (args.liveness ?? Probe.tcp(undefined, { initialDelaySeconds: 10 })) || undefined,
      startup: args.startup,
    };
    const cpuUtilization = autoscaling?.cpuUtilization ?? 70;
    const disruptionBudget =
      args.disruptionBudget ?? (fewestReplicas > 1 ? { maxUnavailable: 1 } : (false as const));
    const ingress = args.ingress && resolveIngress(args.ingress);

    const v = new Validator("WebService", name);
    validateWorkload(v, name, args);
    validateRollout(v, args);
    v.port("port", args.port);
    v.port("servicePort", args.servicePort);
    v.oneOf("serviceType", args.serviceType, ["ClusterIP", "NodePort", "LoadBalancer"]);
    v.annotations("serviceAnnotations", args.serviceAnnotations);
    const portNames = new Set(["http"]);
    for (const [i, p] of extraPorts.entries()) {
      v.dnsLabel(`extraPorts[${i}].name`, p.name, 15);
      v.check(!portNames.has(p.name), `extraPorts[${i}].name`, "is used by another port", p.name);
      portNames.add(p.name);
      v.port(`extraPorts[${i}].port`, p.port);
      v.port(`extraPorts[${i}].containerPort`, p.containerPort);
      v.oneOf(`extraPorts[${i}].protocol`, p.protocol, ["TCP", "UDP", "SCTP"]);
      if (p.nodePort !== undefined) {
        v.integer(`extraPorts[${i}].nodePort`, p.nodePort, 30000, 32767);
        v.check(
          serviceType !== "ClusterIP",
          `extraPorts[${i}].nodePort`,
          "needs `serviceType` NodePort or LoadBalancer",
          p.nodePort,
        );
      }
    }
    v.integer("replicas", args.replicas, 1);
    validateProbes(v, probes);
    validateIngress(v, args.ingress, ingress, portNames);
    if (autoscaling) validateAutoscaling(v, autoscaling, cpuUtilization, args.replicas);
    if (disruptionBudget) validateDisruptionBudget(v, disruptionBudget);
    v.done();

    const workload = startWorkload(this, name, "web", args);
    const meta = workload.metadata;
    const parent = workload.childOptions;
    this.serviceAccount = workload.serviceAccount;
    const selector = { matchLabels: { ...workload.labels.selector } };

    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta(),
        spec: {
          // Under an HPA the Deployment must not own `replicas`: writing it would
          // conflict with the autoscaler's field manager on the next update.
          ...(replicas === undefined ? {} : { replicas }),
          ...rolloutSpec(args),
          selector,
          template: workload.podTemplate({
            ports: [
              { name: "http", containerPort: port },
              ...extraPorts.map((p) => ({
                name: p.name,
                containerPort: p.containerPort ?? p.port,
                protocol: p.protocol ?? "TCP",
              })),
            ],
            probes,
            probePort: port,
            zoneSpread: { mode: args.zoneSpread, mostReplicas },
          }),
        },
      },
      parent,
    );
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: meta(args.serviceAnnotations),
        spec: {
          type: serviceType,
          selector: { ...workload.labels.selector },
          ports: [
            { name: "http", port: servicePort, targetPort: "http" },
            ...extraPorts.map((p) => ({
              name: p.name,
              port: p.port,
              targetPort: p.name,
              protocol: p.protocol ?? "TCP",
              ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
            })),
          ],
        },
      },
      parent,
    );
    if (disruptionBudget) {
      const budget =
        disruptionBudget.minAvailable !== undefined
          ? { minAvailable: disruptionBudget.minAvailable }
          : { maxUnavailable: disruptionBudget.maxUnavailable ?? 1 };
      this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
        name,
        { metadata: meta(), spec: { ...budget, selector } },
        parent,
      );
    }
    if (autoscaling) {
      const utilization = (resource: string, averageUtilization: number) => ({
        type: "Resource",
        resource: { name: resource, target: { type: "Utilization", averageUtilization } },
      });
      this.autoscaler = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        name,
        {
          metadata: meta(),
          spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
            minReplicas: autoscaling.minReplicas,
            maxReplicas: autoscaling.maxReplicas,
            metrics: [
              ...(cpuUtilization === false ? [] : [utilization("cpu", cpuUtilization)]),
              ...(autoscaling.memoryUtilization === undefined
                ? []
                : [utilization("memory", autoscaling.memoryUtilization)]),
              ...(autoscaling.metrics ?? []),
            ],
            ...(autoscaling.behavior === undefined ? {} : { behavior: autoscaling.behavior }),
          },
        },
        parent,
      );
    }
    if (ingress) {
      this.ingress = new k8s.networking.v1.Ingress(
        name,
        {
          metadata: meta(ingress.annotations),
          spec: {
            ...(ingress.className === undefined ? {} : { ingressClassName: ingress.className }),
            rules: ingress.hosts.map((host) => ({
              host,
              http: {
                paths: ingress.paths.map((p) => ({
                  path: p.path,
                  pathType: p.pathType ?? "Prefix",
                  backend: { service: { name, port: { name: p.port ?? "http" } } },
                })),
              },
            })),
            ...(ingress.tls.length === 0
              ? {}
              : {
                  tls: ingress.tls.map((t) => ({
                    hosts: [...(t.hosts ?? ingress.hosts)],
                    secretName: t.secretName,
                  })),
                }),
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
          `${ingress.tls.length === 0 ? "http" : "https"}://${ingress.hosts[0]}${ingress.paths[0]?.path ?? "/"}`,
        )
      : pulumi.output(undefined);
    this.registerOutputs({ dnsName: this.dnsName, url: this.url });
  }
}
