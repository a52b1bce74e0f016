/**
 * What counts as a change of a watched Kubernetes object (pure): a new
 * fingerprint (spec or data by hash, labels, annotations) written by a field
 * manager other than the provider's own or the cluster's controllers, or a
 * deletion. Status updates leave the fingerprint as it was. Object contents
 * are only ever hashed here: a Secret's data never leaves this file.
 */
import { sha256, stableJson } from "../util.js";

/** The part of a Kubernetes object the watch reads. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly managedFields?: readonly ManagedFieldsEntry[];
  };
  readonly [field: string]: unknown;
}

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  readonly manager?: string;
  readonly operation?: string;
  readonly time?: string;
  readonly subresource?: string;
}

/** What the watch remembers of an object between events: a hash, never its contents. */
export interface Seen {
  readonly fingerprint: string;
  readonly resourceVersion?: string;
}

/** A watch event's type, as the API server sends it. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** Why an event counts, or why not. */
export type Verdict =
  | {
      readonly counts: true;
      readonly reason: "changed" | "deleted";
      readonly by?: string;
      readonly at?: number;
    }
  | { readonly counts: false; readonly reason: "first-seen" | "unchanged" | "own-manager" | "controller" };

/**
 * Annotations the cluster's controllers keep up to date on objects a program
 * declares (a Deployment's rollout revision): never a hand edit.
 */
const CONTROLLER_ANNOTATIONS: ReadonlySet<string> = new Set([
  "deployment.kubernetes.io/revision",
  "deployment.kubernetes.io/revision-history",
  "endpoints.kubernetes.io/last-change-trigger-time",
]);

/** Field managers of the control plane itself: their writes follow from the object, not from a person. */
const CONTROLLER_MANAGERS: ReadonlySet<string> = new Set([
  "kube-controller-manager",
  "kube-scheduler",
  "kube-apiserver",
  "kubelet",
]);

/** The annotation with which a program names the provider's field manager (pulumi-kubernetes). */
export const PATCH_FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager";

/**
 * Whether a field manager is the Pulumi Kubernetes provider's: its default
 * manager names start with `pulumi-kubernetes`; a program may name another
 * through the `pulumi.com/patchFieldManager` annotation.
 */
export function isProviderManager(manager: string, object?: KubeObject): boolean {
  if (manager.startsWith("pulumi-kubernetes")) return true;
  return object?.metadata?.annotations?.[PATCH_FIELD_MANAGER_ANNOTATION] === manager;
}

/**
 * A hash of what a person or a program sets on an object: every top-level
 * field but `metadata` and `status` (spec, data, rules…), labels and
 * annotations (without those the controllers maintain). Equal fingerprints
 * mean nothing the watch compares changed.
 */
export function fingerprint(object: KubeObject): string {
  const { metadata, status: _status, apiVersion: _a, kind: _k, ...fields } = object;
  const annotations = Object.fromEntries(
    Object.entries(metadata?.annotations ?? {}).filter(([key]) => !CONTROLLER_ANNOTATIONS.has(key)),
  );
  return sha256(stableJson({ fields, labels: metadata?.labels ?? {}, annotations })).slice(0, 32);
}

/**
 * The field managers of an object's latest write, with its time: the
 * `managedFields` entries (not those of the status subresource) with the
 * newest time.
 */
export function lastWriters(object: KubeObject): { readonly managers: string[]; readonly at?: number } {
  let newest = Number.NEGATIVE_INFINITY;
  let managers: string[] = [];
  for (const entry of object.metadata?.managedFields ?? []) {
    if (entry.subresource === "status" || !entry.manager) continue;
    const at = entry.time ? Date.parse(entry.time) : Number.NaN;
    const time = Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at;
    if (time > newest) {
      newest = time;
      managers = [entry.manager];
    } else if (time === newest) managers.push(entry.manager);
  }
  return Number.isFinite(newest) ? { managers, at: newest } : { managers };
}

/**
 * Classifies one watch event of a watched object against what was seen of it
 * before: a deletion counts; a first sighting only sets the baseline; a new
 * fingerprint counts unless the object's latest writers are all the provider
 * or the cluster's controllers.
 */
export function classify(before: Seen | undefined, type: WatchEventType, object: KubeObject): Verdict {
  if (type === "DELETED") return { counts: true, reason: "deleted" };
  if (!before) return { counts: false, reason: "first-seen" };
  if (before.fingerprint === fingerprint(object)) return { counts: false, reason: "unchanged" };
  const { managers, at } = lastWriters(object);
  const others = managers.filter((m) => !isProviderManager(m, object));
  if (managers.length > 0 && others.length === 0) return { counts: false, reason: "own-manager" };
  if (others.length > 0 && others.every((m) => CONTROLLER_MANAGERS.has(m)))
    return { counts: false, reason: "controller" };
  return { counts: true, reason: "changed", ...(others[0] ? { by: others[0] } : {}), ...(at ? { at } : {}) };
}

/** What {@link seen} remembers of an object. */
export function seen(object: KubeObject): Seen {
  const resourceVersion = object.metadata?.resourceVersion;
  return { fingerprint: fingerprint(object), ...(resourceVersion ? { resourceVersion } : {}) };
}
