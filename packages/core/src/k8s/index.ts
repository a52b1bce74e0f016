export { AccessRole, type AccessRoleArgs, type AccessRuleArgs } from "./accessRole.js";
export { ConfigBundle, type ConfigBundleArgs } from "./configBundle.js";
export type { ContainerArgs, SecurityContextArgs } from "./container.js";
export { CRON_MACROS, cronProblem } from "./cron.js";
export { CronTask, type CronTaskArgs } from "./cronTask.js";
export { EnvFrom } from "./envFrom.js";
export { EnvValue } from "./envValue.js";
export type {
  IngressArgs,
  IngressPathArgs,
  IngressTlsArgs,
  PathType,
} from "./ingress.js";
export { Job, type JobArgs } from "./job.js";
export { FIXED_NAME_OPTIONS, PATCH_FORCE_ANNOTATION, SKIP_AWAIT_ANNOTATION } from "./metadata.js";
export { Mount } from "./mount.js";
export { type ContainerLimitArgs, Namespace, type NamespaceArgs, type QuotaArgs } from "./namespace.js";
export { NetworkPeer } from "./networkPeer.js";
export { Probe, type ProbeOptions } from "./probe.js";
export { parseQuantity } from "./quantity.js";
export { DEFAULT_RESOURCES, type ResourceAmounts, type ResourceRequirements } from "./resources.js";
export type { RolloutArgs, RolloutStrategy } from "./rollout.js";
export type { AutoscalingArgs, DisruptionBudgetArgs } from "./scaling.js";
export { StatefulService, type StatefulServiceArgs, type VolumeClaimArgs } from "./statefulService.js";
export { type DockerConfigArgs, type TlsArgs, TypedSecret, type TypedSecretArgs } from "./typedSecret.js";
export { type ServicePortArgs, WebService, type WebServiceArgs } from "./webService.js";
export { Worker, type WorkerArgs } from "./worker.js";
export type { WorkloadArgs } from "./workload.js";
