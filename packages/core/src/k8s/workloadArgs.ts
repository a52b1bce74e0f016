// WorkloadArgs, the inputs every workload shares, apart from the code that
// uses them so `podSpec.ts` and `workload.ts` both import them downwards.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ContainerArgs, SecurityContextArgs } from "./container.js";
import type { EnvFrom } from "./envFrom.js";
import type { EnvValue } from "./envValue.js";
import type { Mount } from "./mount.js";
import type { Namespace } from "./namespace.js";
import type { ResourceRequirements } from "./resources.js";

/** Inputs every workload (WebService, Worker, CronTask, Job, StatefulService) shares. */
export interface WorkloadArgs {
  /**
   * Container image; pin a tag or digest (the `no-latest-tag` guardrail).
   * @see https://kubernetes.io/docs/concepts/containers/images/
   */
  readonly image: pulumi.Input<string>;
  /**
   * Entrypoint override.
   * @default - the image's ENTRYPOINT
   */
  readonly command?: readonly pulumi.Input<string>[];
  /**
   * Arguments override.
   * @default - the image's CMD
   */
  readonly args?: readonly pulumi.Input<string>[];
  /**
   * Environment variables: literal values or {@link EnvValue}s.
   * @default {}
   * @see https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
   */
  readonly env?: Readonly<Record<string, pulumi.Input<string> | EnvValue>>;
  /**
   * Whole ConfigMaps, Secrets or ConfigBundles as environment variables.
   * @default []
   */
  readonly envFrom?: readonly EnvFrom[];
  /**
   * Volumes to mount.
   * @default []
   */
  readonly mounts?: readonly Mount[];
  /**
   * CPU and memory requests and limits.
   * @default DEFAULT_RESOURCES
   */
  readonly resources?: ResourceRequirements;
  /**
   * Relaxations of the secure pod defaults.
   * @default {} (all defaults on)
   */
  readonly securityContext?: SecurityContextArgs;
  /**
   * Namespace of every object the component creates: a name, or a
   * {@link Namespace} component, whose quota, limits and network policies are
   * then created before the workload.
   * @default - the provider's namespace
   */
  readonly namespace?: pulumi.Input<string> | Namespace;
  /**
   * ServiceAccount the pods run as, by name or as the object (then it is
   * created first); its token is mounted only when this is set.
   * @default - the namespace's `default` account, token not mounted
   * @see https://kubernetes.io/docs/concepts/security/service-accounts/
   */
  readonly serviceAccountName?: pulumi.Input<string> | k8s.core.v1.ServiceAccount;
  /**
   * Create a ServiceAccount for this workload (named after it, token mounted)
   * and run the pods as it. `annotations` link it to a cloud identity, e.g.
   * `serviceAccountAnnotations` of an AWS `ServiceRole` (IRSA). Not together
   * with `serviceAccountName`.
   * @default - no own ServiceAccount
   * @see https://kubernetes.io/docs/concepts/security/service-accounts/
   */
  readonly serviceAccount?: true | { readonly annotations?: Readonly<Record<string, pulumi.Input<string>>> };
  /**
   * Extra labels on every object and pod. Empty values are allowed, as in Kubernetes.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Annotations on every object the component creates (not on pods: see `podAnnotations`).
   * @default {}
   * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/
   */
  readonly annotations?: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * Annotations on the pod template (changing them rolls the pods).
   * @default {}
   */
  readonly podAnnotations?: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * Run only on nodes carrying all these labels.
   * @default {}
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector
   */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /**
   * Taints the pods tolerate.
   * @default []
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
   */
  readonly tolerations?: readonly k8s.types.input.core.v1.Toleration[];
  /**
   * Node and pod (anti-)affinity, passed through as Kubernetes writes it.
   * @default - none
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#affinity-and-anti-affinity
   */
  readonly affinity?: k8s.types.input.core.v1.Affinity;
  /**
   * Value of the `app.kubernetes.io/version` label.
   * @default - no version label
   * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
   */
  readonly version?: string;
  /**
   * Value of the `app.kubernetes.io/part-of` label.
   * @default - no part-of label
   */
  readonly partOf?: string;
  /**
   * Do not wait for readiness: adds the annotation `pulumi.com/skipAwait: "true"`
   * to every object the component creates. For clusters without nodes (CI, kind without workers).
   * @default false
   * @see https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/#await-behavior
   */
  readonly skipAwait?: boolean;
  /**
   * Containers run to completion, in order, before the workload's container starts.
   * @default []
   * @see https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
   */
  readonly initContainers?: readonly ContainerArgs[];
  /**
   * Native sidecars: containers that start before the workload's container and
   * run beside it (init containers with `restartPolicy: Always`, Kubernetes 1.29+).
   * @default []
   * @see https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/
   */
  readonly sidecars?: readonly ContainerArgs[];
  /**
   * Secrets (type `kubernetes.io/dockerconfigjson`) used to pull private images;
   * see `TypedSecret.dockerConfig`.
   * @default []
   * @see https://kubernetes.io/docs/concepts/containers/images/#specifying-imagepullsecrets-on-a-pod
   */
  readonly imagePullSecrets?: readonly pulumi.Input<string>[];
  /**
   * Seconds a pod gets between SIGTERM and SIGKILL.
   * @default 30
   * @see https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Command run in the container before it receives SIGTERM, e.g. `["sleep", "5"]`
   * so load balancers stop sending traffic first.
   * @default - no preStop hook
   * @see https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
   */
  readonly preStop?: readonly string[];
}
