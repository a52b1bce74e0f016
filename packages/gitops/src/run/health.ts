/**
 * The health of a Kubernetes object from the live object the provider read
 * (its outputs in the stack's state), after Argo CD's health checks: pure
 * functions of the object, one rule per kind. No cluster is asked.
 */
import type { ResourceHealth } from "../types.js";

type Obj = Readonly<Record<string, unknown>>;

/** A Kubernetes condition as it appears in `status.conditions`. */
interface K8sCondition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

const healthy = (reason = ""): ResourceHealth => ({ status: "Healthy", reason });
const progressing = (reason: string): ResourceHealth => ({ status: "Progressing", reason });
const degraded = (reason: string): ResourceHealth => ({ status: "Degraded", reason });

/**
 * The health of a Kubernetes object from its live state.
 * @param object - the resource's outputs in state (`apiVersion`, `kind`,
 *   `metadata`, `spec`, `status`); `undefined` or empty when the object is not there
 * @returns `Missing` for no object, `Unknown` for a kind without a rule
 */
export function kubernetesHealth(object: Obj | undefined): ResourceHealth {
  if (!object || Object.keys(object).length === 0) return { status: "Missing", reason: "not in the cluster" };
  const kind = str(object.kind);
  const rule = kind ? RULES[kind] : undefined;
  if (!rule) return { status: "Unknown", reason: kind ? `no health rule for ${kind}` : "" };
  return rule(obj(object.spec), obj(object.status), object);
}

/**
 * Kinds that are configuration only, with no status to judge (Argo CD has no
 * health check for them either): present in the cluster means Healthy.
 */
const STATIC_KINDS = [
  "ConfigMap",
  "Secret",
  "ServiceAccount",
  "LimitRange",
  "ResourceQuota",
  "NetworkPolicy",
  "Role",
  "RoleBinding",
  "ClusterRole",
  "ClusterRoleBinding",
  "PriorityClass",
  "StorageClass",
  "IngressClass",
] as const;

/** `ScalingActive: False` reasons that are a choice, not a failure (scaled to zero, no metrics asked for). */
const HPA_BENIGN = new Set(["ScalingDisabled"]);

type Rule = (spec: Obj, status: Obj, object: Obj) => ResourceHealth;

const RULES: Readonly<Record<string, Rule>> = {
  Deployment: (spec, status, object) => {
    if (spec.paused === true) return progressing("rollout paused");
    if (num(obj(object.metadata).generation) > num(status.observedGeneration))
      return progressing("waiting for the controller to observe the new generation");
    const desired = num(spec.replicas, 1);
    const updated = num(status.updatedReplicas);
    const available = num(status.availableReplicas);
    const total = num(status.replicas);
    if (condition(status, "Progressing")?.reason === "ProgressDeadlineExceeded")
      return degraded(`rollout exceeded its progress deadline (${available}/${desired} available)`);
    if (updated < desired) return progressing(`${updated} of ${desired} replicas updated`);
    if (total > updated) return progressing(`${total - updated} old replica(s) pending termination`);
    if (available < updated) return progressing(`${available} of ${updated} updated replicas available`);
    return healthy(`${available}/${desired} replicas available`);
  },
  StatefulSet: (spec, status, object) => {
    if (num(obj(object.metadata).generation) > num(status.observedGeneration))
      return progressing("waiting for the controller to observe the new generation");
    const desired = num(spec.replicas, 1);
    const ready = num(status.readyReplicas);
    if (ready < desired) return progressing(`${ready} of ${desired} replicas ready`);
    const strategy = obj(spec.updateStrategy);
    if (strategy.type === "OnDelete") return healthy(`${ready}/${desired} replicas ready (OnDelete updates)`);
    const partition = num(obj(strategy.rollingUpdate).partition);
    const updated = num(status.updatedReplicas);
    if (updated < desired - partition)
      return progressing(`${updated} of ${desired - partition} replicas updated`);
    if (partition === 0 && str(status.updateRevision) && status.currentRevision !== status.updateRevision)
      return progressing("rollout to the new revision in progress");
    return healthy(`${ready}/${desired} replicas ready`);
  },
  DaemonSet: (_spec, status, object) => {
    if (num(obj(object.metadata).generation) > num(status.observedGeneration))
      return progressing("waiting for the controller to observe the new generation");
    const desired = num(status.desiredNumberScheduled);
    const updated = num(status.updatedNumberScheduled);
    const available = num(status.numberAvailable);
    if (updated < desired) return progressing(`${updated} of ${desired} pods updated`);
    if (available < desired) return progressing(`${available} of ${desired} pods available`);
    return healthy(`${available}/${desired} pods available`);
  },
  Job: (spec, status) => {
    const failed = condition(status, "Failed");
    if (failed?.status === "True") return degraded(failed.message ?? failed.reason ?? "the job failed");
    const complete = condition(status, "Complete");
    if (complete?.status === "True") return healthy(`${num(status.succeeded)} succeeded`);
    if (spec.suspend === true) return progressing("suspended");
    return progressing(
      `${num(status.active)} active, ${num(status.succeeded)} succeeded, ${num(status.failed)} failed`,
    );
  },
  CronJob: (spec, status) => {
    const last = str(status.lastScheduleTime);
    const lastSuccess = str(status.lastSuccessfulTime);
    const active = Array.isArray(status.active) ? status.active.length : 0;
    if (last && lastSuccess && Date.parse(lastSuccess) < Date.parse(last) && active === 0)
      return degraded(`the job scheduled at ${last} did not succeed (last success ${lastSuccess})`);
    if (spec.suspend === true) return healthy(last ? `suspended; last scheduled ${last}` : "suspended");
    return healthy(last ? `last scheduled ${last}` : "not scheduled yet");
  },
  Pod: (_spec, status) => {
    const phase = str(status.phase);
    const waiting = containerStatuses(status)
      .map((c) => obj(obj(c.state).waiting))
      .find((w) => BAD_WAITING.has(str(w.reason) ?? ""));
    if (waiting)
      return degraded(`${str(waiting.reason)}${str(waiting.message) ? `: ${str(waiting.message)}` : ""}`);
    if (phase === "Succeeded") return healthy("succeeded");
    if (phase === "Failed") return degraded(str(status.message) ?? str(status.reason) ?? "the pod failed");
    if (phase === "Pending") return progressing("pending");
    if (phase === "Running") {
      const ready = condition(status, "Ready");
      return ready?.status === "True" ? healthy("running and ready") : progressing("running, not ready");
    }
    return { status: "Unknown", reason: phase ? `phase ${phase}` : "" };
  },
  Service: (spec, status) => {
    if (spec.type !== "LoadBalancer") return healthy(str(spec.type) ?? "ClusterIP");
    const address = addresses(status);
    return address
      ? healthy(`load balancer at ${address}`)
      : progressing("waiting for a load balancer address");
  },
  Ingress: (_spec, status) => {
    const address = addresses(status);
    return address ? healthy(`address ${address}`) : progressing("waiting for an address");
  },
  PersistentVolumeClaim: (_spec, status) => {
    const phase = str(status.phase);
    if (phase === "Bound") return healthy("bound");
    if (phase === "Lost") return degraded("its volume is lost");
    return progressing(phase ? phase.toLowerCase() : "not bound");
  },
  Namespace: (_spec, status) =>
    str(status.phase) === "Terminating" ? progressing("terminating") : healthy(str(status.phase) ?? ""),
  PodDisruptionBudget: (_spec, status, object) => {
    // As created, the API server's defaults (all counts 0) until the disruption controller counts the Pods.
    if (status.observedGeneration === undefined) return healthy("no Pods counted yet");
    if (num(obj(object.metadata).generation) > num(status.observedGeneration))
      return progressing("waiting for the disruption controller to observe the new generation");
    const current = num(status.currentHealthy);
    const desired = num(status.desiredHealthy);
    if (current < desired) return degraded(`${current} of ${desired} required Pods healthy`);
    return healthy(
      `${current}/${desired} required Pods healthy, ${num(status.disruptionsAllowed)} disruption(s) allowed`,
    );
  },
  HorizontalPodAutoscaler: (_spec, status) => {
    const failing = ["AbleToScale", "ScalingActive"]
      .map((type) => condition(status, type))
      .find((c) => c?.status === "False" && !HPA_BENIGN.has(c.reason ?? ""));
    if (failing) return degraded(failing.message ?? failing.reason ?? `${failing.type} is False`);
    if (!condition(status, "ScalingActive")) return progressing("waiting for the autoscaler's first reading");
    return healthy(`${num(status.currentReplicas)} replicas (desired ${num(status.desiredReplicas)})`);
  },
  ...Object.fromEntries(STATIC_KINDS.map((kind) => [kind, () => healthy("exists")])),
};

/** Container waiting reasons that will not pass by themselves (Argo CD counts the same ones). */
const BAD_WAITING = new Set([
  "CrashLoopBackOff",
  "ErrImagePull",
  "ImagePullBackOff",
  "CreateContainerConfigError",
  "InvalidImageName",
  "CreateContainerError",
]);

function containerStatuses(status: Obj): Obj[] {
  return [status.initContainerStatuses, status.containerStatuses].flatMap((list) =>
    Array.isArray(list) ? list.map(obj) : [],
  );
}

/** The first load balancer address (`status.loadBalancer.ingress[].ip|hostname`), comma-joined. */
function addresses(status: Obj): string | undefined {
  const ingress = obj(status.loadBalancer).ingress;
  if (!Array.isArray(ingress)) return undefined;
  const list = ingress.map(obj).flatMap((i) => [str(i.ip) ?? str(i.hostname) ?? []].flat());
  return list.length > 0 ? list.join(", ") : undefined;
}

function condition(status: Obj, type: string): K8sCondition | undefined {
  const list = status.conditions;
  return Array.isArray(list)
    ? (list.map(obj).find((c) => c.type === type) as K8sCondition | undefined)
    : undefined;
}

/** A plain object, or `{}`: a secret (still wrapped in its marker) reads as nothing known. */
function obj(value: unknown): Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
  if ("4dabf18193072939515e22adb298388d" in value) return {};
  return value as Obj;
}

function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
