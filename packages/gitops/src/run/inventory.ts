/**
 * What a target's stack manages: the inventory built from the stack's state
 * after a run, each resource with its sync state, health and the run that
 * last changed it; and the tree its parents make. Pure: the run reads the
 * state and stores the result (see `run.ts`).
 */
import type { DriftedResource, PlannedStep, StateResource } from "../engine/types.js";
import type {
  ResourceChange,
  ResourceEntry,
  ResourceHealth,
  ResourceNode,
  ResourceSyncState,
  RunResult,
  TargetInventory,
} from "../types.js";
import { kubernetesHealth } from "./health.js";

/** What one run knew about its stack, for {@link buildInventory}. */
export interface InventoryInput {
  readonly target: string;
  readonly runId: string;
  readonly revision?: string;
  /** When the run finished (ISO 8601). */
  readonly at: string;
  readonly result: RunResult;
  /** The stack's state after the run. */
  readonly resources: readonly StateResource[];
  /** The inventory stored before, whose last changes carry over. */
  readonly previous?: TargetInventory;
  /** The run's planned steps: applied when the run applied, pending otherwise. */
  readonly steps?: readonly PlannedStep[];
  /** Drift found and not corrected (the target's `unresolvedDrift`). */
  readonly drift?: readonly DriftedResource[];
  /** Errors the engine reported on resources during the run, by URN (secrets redacted). */
  readonly errors?: ReadonlyMap<string, string>;
  /**
   * The resources whose step the run's `up` completed: a failed or cancelled
   * update applies some steps before it stops, and those are not pending.
   */
  readonly completed?: ReadonlySet<string>;
}

const APPLIED: readonly RunResult[] = ["applied", "drift-corrected"];

/**
 * The inventory after a run. A resource's sync state is, first match wins:
 * `failed` (the engine reported an error on it), `drifted` (drift found and
 * not corrected, with its paths), `pending` (the run's plan has a step for it
 * it did not apply), else `synced`. A step that would create a resource not
 * in state yet adds a `pending` entry whose health is `Missing`; a resource
 * the last refresh found deleted outside of Driftless is `Missing` too.
 */
export function buildInventory(input: InventoryInput): TargetInventory {
  const applied = APPLIED.includes(input.result);
  const done = (urn: string) => applied || (input.completed?.has(urn) ?? false);
  const steps = new Map((input.steps ?? []).map((s) => [s.urn, s]));
  const drift = new Map((input.drift ?? []).map((d) => [d.urn, d]));
  const before = new Map((input.previous?.resources ?? []).map((r) => [r.urn, r]));
  const change = (urn: string): ResourceChange | undefined => {
    const step = steps.get(urn);
    if (step && step.op !== "delete" && done(urn))
      return {
        runId: input.runId,
        ...(input.revision ? { revision: input.revision } : {}),
        op: step.op,
        at: input.at,
      };
    return before.get(urn)?.lastChange;
  };
  const sync = (urn: string): Pick<ResourceEntry, "sync" | "driftPaths" | "pendingOp" | "error"> => {
    const error = input.errors?.get(urn);
    if (error !== undefined) return { sync: "failed", error };
    const drifted = drift.get(urn);
    if (drifted) return { sync: "drifted", ...(drifted.paths ? { driftPaths: drifted.paths } : {}) };
    const step = steps.get(urn);
    if (step && !done(urn)) return { sync: "pending", pendingOp: step.op };
    return { sync: "synced" };
  };
  const entries: ResourceEntry[] = input.resources.map((resource) => {
    const kubernetes = kubernetesIdentity(resource);
    const lastChange = change(resource.urn);
    const commit = provenanceCommit(resource.outputs);
    return {
      urn: resource.urn,
      type: resource.type,
      name: urnName(resource.urn),
      ...(resource.provider ? { provider: providerUrn(resource.provider) } : {}),
      ...(resource.parent ? { parent: resource.parent } : {}),
      protect: resource.protect === true,
      custom: resource.custom,
      ...(kubernetes ? { kubernetes } : {}),
      ...sync(resource.urn),
      health: drift.get(resource.urn)?.gone
        ? { status: "Missing", reason: "deleted outside of Driftless (found by the last refresh)" }
        : healthOf(resource, kubernetes !== undefined),
      ...(lastChange ? { lastChange } : {}),
      ...(commit ? { commit } : {}),
    };
  });
  const present = new Set(entries.map((e) => e.urn));
  if (!applied) {
    // Indexed once: a preview of 2,000 creates against 2,000 resources took seconds scanning them per create.
    const byChain = chainIndex(present);
    for (const step of steps.values()) {
      if (step.op !== "create" || present.has(step.urn) || done(step.urn)) continue;
      const parent = urnParent(step.urn, byChain);
      entries.push({
        urn: step.urn,
        type: step.type,
        name: urnName(step.urn),
        ...(parent ? { parent } : {}),
        protect: false,
        custom: true,
        sync: "pending",
        pendingOp: "create",
        health: step.type.startsWith("kubernetes:")
          ? { status: "Missing", reason: "not created yet" }
          : { status: "Unknown", reason: "not created yet" },
      });
    }
  }
  return {
    target: input.target,
    runId: input.runId,
    ...(input.revision ? { revision: input.revision } : {}),
    at: input.at,
    resources: entries,
  };
}

/**
 * The resources as a forest: each under its parent, in inventory order;
 * a resource whose parent is not in the list is a root.
 */
export function resourceTree(resources: readonly ResourceEntry[]): ResourceNode[] {
  const children = new Map<string, ResourceNode[]>();
  const nodes = resources.map((r) => {
    const node: ResourceNode = { ...r, children: [] };
    children.set(r.urn, node.children as ResourceNode[]);
    return node;
  });
  const roots: ResourceNode[] = [];
  for (const node of nodes) {
    const siblings =
      node.parent !== undefined && node.parent !== node.urn ? children.get(node.parent) : undefined;
    (siblings ?? roots).push(node);
  }
  return roots;
}

/** How many resources of an inventory are in each sync state. */
export function syncCounts(resources: readonly ResourceEntry[]): Record<ResourceSyncState, number> {
  const counts: Record<ResourceSyncState, number> = { synced: 0, drifted: 0, pending: 0, failed: 0 };
  for (const r of resources) counts[r.sync]++;
  return counts;
}

/** What names a Kubernetes object, from its outputs; `undefined` for anything else. */
export function kubernetesIdentity(resource: StateResource): ResourceEntry["kubernetes"] {
  if (!resource.custom || !resource.type.startsWith("kubernetes:") || resource.type.startsWith("pulumi:"))
    return undefined;
  const outputs = resource.outputs ?? {};
  const metadata = plain(outputs.metadata);
  const apiVersion = text(outputs.apiVersion);
  const kind = text(outputs.kind);
  const name = text(metadata.name);
  if (!apiVersion || !kind || !name) return undefined;
  const namespace = text(metadata.namespace);
  return { apiVersion, kind, ...(namespace ? { namespace } : {}), name };
}

/** `@driftless/core`'s provenance keys (its PROVENANCE_ANNOTATIONS, _LABELS and _TAGS; this package does not depend on core). */
const COMMIT_KEYS = { kubernetes: "driftless.dev/commit", aws: "driftless:commit" } as const;

/**
 * The commit core's provenance stamped on a resource, from its live state:
 * a Kubernetes annotation (verbatim) or label, else an AWS tag.
 */
export function provenanceCommit(outputs: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!outputs) return undefined;
  const metadata = plain(outputs.metadata);
  const found =
    text(plain(metadata.annotations)[COMMIT_KEYS.kubernetes]) ??
    text(plain(metadata.labels)[COMMIT_KEYS.kubernetes]) ??
    text(plain(outputs.tags)[COMMIT_KEYS.aws]) ??
    text(plain(outputs.tagsAll)[COMMIT_KEYS.aws]);
  return found && /^[0-9a-f]{7,40}$/.test(found) ? found : undefined;
}

function healthOf(resource: StateResource, isKubernetes: boolean): ResourceHealth {
  if (isKubernetes) return kubernetesHealth(resource.outputs);
  return { status: "Unknown", reason: "" };
}

/** `urn:pulumi:stack::project::a$b::name` → `name` (a name may itself hold `::`). */
export function urnName(urn: string): string {
  const parts = urn.split("::");
  return parts.length >= 4 ? parts.slice(3).join("::") : urn;
}

/** A provider reference `<urn>::<id>` → its URN. */
function providerUrn(reference: string): string {
  const cut = reference.lastIndexOf("::");
  return cut > 0 && reference.slice(0, cut).startsWith("urn:") ? reference.slice(0, cut) : reference;
}

/**
 * A pending create's parent, from its URN's type chain (`…::Parent$Child::name`):
 * the resource in state whose type chain is the chain's parent part, when
 * exactly one is; a resource whose URN names no parent (its type chain is its
 * own type) hangs under the stack, whose type Pulumi leaves out of the chain.
 */
function urnParent(urn: string, byChain: ReadonlyMap<string, readonly string[]>): string | undefined {
  const parts = urn.split("::");
  const chain = parts[2]?.split("$") ?? [];
  const head = parts.slice(0, 2).join("::");
  const prefix =
    chain.length < 2 ? `${head}::pulumi:pulumi:Stack::` : `${head}::${chain.slice(0, -1).join("$")}::`;
  const candidates = byChain.get(prefix) ?? [];
  return candidates.length === 1 ? candidates[0] : undefined;
}

/** URNs by everything before their name (`urn:pulumi:stack::project::type chain::`). */
function chainIndex(urns: Iterable<string>): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const urn of urns) {
    const key = `${urn.split("::").slice(0, 3).join("::")}::`;
    const list = index.get(key);
    if (list) list.push(urn);
    else index.set(key, [urn]);
  }
  return index;
}

function plain(value: unknown): Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
