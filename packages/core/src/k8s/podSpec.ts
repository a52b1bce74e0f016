// The pod spec every workload shares: one container named after the
// workload, with the secure defaults, env, mounts, resources, sidecars and
// init containers, and the pod-level settings from WorkloadArgs.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ContainerArgs, ContainerExtras } from "./container.js";
import { EnvValue } from "./envValue.js";
import { resolveResources } from "./resources.js";
import type { WorkloadArgs } from "./workloadArgs.js";

/**
 * The pod spec shared by every workload: one container named after the
 * workload, the secure defaults with the caller's relaxations, env, mounts and
 * resources.
 */
export function podSpec(
  name: string,
  args: WorkloadArgs,
  extras: ContainerExtras,
  restartPolicy?: "Always" | "OnFailure" | "Never",
): k8s.types.input.core.v1.PodSpec {
  const sc = args.securityContext ?? {};
  const mounts = (args.mounts ?? []).map((m, i) => m.toK8s(`mount-${i}`));
  const shared = (c: ContainerArgs): k8s.types.input.core.v1.Container => {
    const env = Object.entries(c.env ?? {}).map(([key, value]) =>
      value instanceof EnvValue ? { name: key, valueFrom: value.toValueFrom() } : { name: key, value },
    );
    return {
      name: c.name,
      image: c.image,
      ...(c.command === undefined ? {} : { command: [...c.command] }),
      ...(c.args === undefined ? {} : { args: [...c.args] }),
      ...(env.length > 0 ? { env } : {}),
      ...(c.envFrom?.length ? { envFrom: c.envFrom.map((e) => e.toK8s()) } : {}),
      ...(mounts.length > 0 ? { volumeMounts: mounts.map((m) => m.mount) } : {}),
      resources: resolveResources(c.resources),
      securityContext: {
        runAsNonRoot: sc.runAsNonRoot ?? true,
        readOnlyRootFilesystem: sc.readOnlyRootFilesystem ?? true,
        allowPrivilegeEscalation: sc.allowPrivilegeEscalation ?? false,
        capabilities: {
          drop: ["ALL"],
          ...(sc.addCapabilities?.length ? { add: [...sc.addCapabilities] } : {}),
        },
        ...(sc.runAsUser === undefined ? {} : { runAsUser: sc.runAsUser }),
        ...(sc.runAsGroup === undefined ? {} : { runAsGroup: sc.runAsGroup }),
      },
    };
  };
  const { resources, securityContext, ...main } = shared({ ...args, name });
  const { claimMounts = [], ...containerExtras } = extras;
  const volumeMounts = [...mounts.map((m) => m.mount), ...claimMounts];
  const container: k8s.types.input.core.v1.Container = {
    ...main,
    ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
    ...containerExtras,
    ...(args.preStop === undefined
      ? {}
      : { lifecycle: { preStop: { exec: { command: [...args.preStop] } } } }),
    resources,
    securityContext,
  };
  // Native sidecars are init containers that keep running (Kubernetes 1.29+):
  // they start before the init containers that follow and the main container.
  const initContainers = [
    ...(args.sidecars ?? []).map((c) => ({ ...shared(c), restartPolicy: "Always" })),
    ...(args.initContainers ?? []).map(shared),
  ];
  return {
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [container],
    ...(mounts.length > 0 ? { volumes: mounts.map((m) => m.volume) } : {}),
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(args.terminationGracePeriodSeconds === undefined
      ? {}
      : { terminationGracePeriodSeconds: args.terminationGracePeriodSeconds }),
    ...(args.serviceAccountName === undefined
      ? {}
      : { serviceAccountName: serviceAccountNameOf(args.serviceAccountName) }),
    ...(args.imagePullSecrets?.length
      ? { imagePullSecrets: args.imagePullSecrets.map((secret) => ({ name: secret })) }
      : {}),
    ...(args.nodeSelector === undefined ? {} : { nodeSelector: { ...args.nodeSelector } }),
    ...(args.tolerations?.length ? { tolerations: [...args.tolerations] } : {}),
    ...(args.affinity === undefined ? {} : { affinity: args.affinity }),
    automountServiceAccountToken: args.serviceAccountName !== undefined,
    securityContext: {
      runAsNonRoot: sc.runAsNonRoot ?? true,
      seccompProfile: { type: sc.seccompProfile ?? "RuntimeDefault" },
      ...(sc.fsGroup === undefined ? {} : { fsGroup: sc.fsGroup }),
    },
  };
}

function serviceAccountNameOf(sa: pulumi.Input<string> | k8s.core.v1.ServiceAccount): pulumi.Input<string> {
  return sa instanceof k8s.core.v1.ServiceAccount ? sa.metadata.apply((m) => m.name as string) : sa;
}
