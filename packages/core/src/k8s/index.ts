export { ConfigBundle, type ConfigBundleArgs } from "./configBundle.js";
export { CRON_MACROS, cronProblem } from "./cron.js";
export { CronTask, type CronTaskArgs } from "./cronTask.js";
export { EnvFrom } from "./envFrom.js";
export { EnvValue } from "./envValue.js";
export { SKIP_AWAIT_ANNOTATION } from "./metadata.js";
export { Mount } from "./mount.js";
export { type ContainerLimitArgs, Namespace, type NamespaceArgs, type QuotaArgs } from "./namespace.js";
export { NetworkPeer } from "./networkPeer.js";
export { Probe, type ProbeOptions } from "./probe.js";
export { parseQuantity } from "./quantity.js";
export { type AutoscalingArgs, type IngressArgs, WebService, type WebServiceArgs } from "./webService.js";
export { Worker, type WorkerArgs } from "./worker.js";
export {
  DEFAULT_RESOURCES,
  type ResourceAmounts,
  type ResourceRequirements,
  type SecurityContextArgs,
  type WorkloadArgs,
} from "./workload.js";
