/**
 * The domain model of the reconciler: a target's status and conditions, runs
 * and their results, promotions and stack leases. Storage, events, HTTP and
 * the CLI import these types from here, not from a store implementation.
 */
import type { ChangeCounts, DriftedResource, PlannedStep, PropertyChange } from "./engine/types.js";

/** Condition types of a target, after Flux and Kubernetes status conventions. */
/**
 * `Watching` (Kubernetes targets only): whether the objects the stack manages
 * are watched for changes, with the reason when not.
 */
export type ConditionType = "Ready" | "Reconciling" | "Drifted" | "Stalled" | "Suspended" | "Watching";

/**
 * A condition's status: true, false, or `"Unknown"` when it cannot be told
 * (Kubernetes conditions are True, False or Unknown). Only `Drifted` is ever
 * `"Unknown"`: no drift check has completed since the last change. Compare
 * with `=== true`: `"Unknown"` is truthy.
 */
export type ConditionStatus = boolean | "Unknown";

/** One condition of a target's status. */
export interface Condition {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  /** CamelCase reason, stable for aggregation (e.g. `Applied`, `GateRefused`). */
  readonly reason: string;
  readonly message: string;
  /** When the status last flipped (ISO 8601). */
  readonly since: string;
}

/** The persisted status of one target. */
export interface TargetStatus {
  readonly name: string;
  readonly conditions: readonly Condition[];
  readonly lastAttemptedRevision?: string;
  readonly lastAppliedRevision?: string;
  readonly lastAppliedAt?: string;
  /**
   * When the last full refresh + preview of an unchanged revision ran (a
   * resync, or a run of a new revision); a watch's drift check of a few
   * resources does not move it.
   */
  readonly lastDriftCheckAt?: string;
  /**
   * Drift a run found that no run has put back since, nor has Git adopted.
   * Stored the moment the run finds it: the refresh that found it may already
   * have written the live values into the stack's state, so no later refresh
   * sees it again, whatever happens to that run afterwards.
   */
  readonly unresolvedDrift?: UnresolvedDrift;
  /**
   * Digest of the spec the last recorded run ran with (the fields that change
   * what a run does): a different spec is a reason to run, as a new revision is.
   */
  readonly specDigest?: string;
  /** When the retry of a failed run is due (ISO 8601); a restart keeps the retry. */
  readonly retryAt?: string;
  /** A revision that stalled; it is not retried until a new revision, an approval or a manual run. */
  readonly stalledRevision?: string;
  /** A revision a person approved past a gate or a rewritten ref. */
  readonly approvedRevision?: string;
  /** Who approved {@link approvedRevision}, and why. */
  readonly approvedBy?: RunOverride;
  /**
   * For a target that does not apply (detect, preview): the revision whose
   * changes Git holds that are not applied, reported apart from drift.
   */
  readonly pendingChanges?: { readonly revision: string };
  /** When a change window next opens for changes a run deferred (ISO 8601). */
  readonly deferredUntil?: string;
  /** A plan that waits for `Reconciler.approve`, pinned to its revision. */
  readonly awaitingApproval?: PendingApproval;
  /** Stack outputs after the last successful apply (secrets masked). */
  readonly outputs?: Readonly<Record<string, unknown>>;
  /** Digest of the dependency outputs the last successful run passed as config. */
  readonly appliedDepsDigest?: string;
  /**
   * When {@link lastAppliedRevision} was first applied. Drift corrections do
   * not move it, nor does a revision with the applied tree (its program ran
   * already: a promotion's soak counts from when that was applied).
   */
  readonly revisionAppliedAt?: string;
  /**
   * The commit the program runs as (`DRIFTLESS_GIT_COMMIT`, which
   * `@driftless/core` stamps on resources as provenance) while it is not
   * {@link lastAppliedRevision}: the earlier commit whose program was applied,
   * when later ones hold the same tree at the target's paths (a revert, a
   * commit elsewhere in the repository). Those change nothing, so they update
   * no resource; applying a revision with another tree drops this.
   */
  readonly programRevision?: string;
  /** For a target with `promote`: the revision it was last promoted (or rolled back) to. */
  readonly promotedRevision?: string;
  /** A revision rolled back from; automatic promotion skips it until the upstream moves on. */
  readonly heldBackRevision?: string;
  /** The upstream's revision that is not promoted yet, and until when or for what it waits. */
  readonly pendingPromotion?: PendingPromotion;
  /** The last suspend or resume through the API: which, when, and who and why when given. */
  readonly suspension?: Suspension;
  /**
   * With replicas: the replica (owner id) holding the target's lease, read
   * from the lease when the status is read, never stored with it.
   */
  readonly owner?: string;
  readonly updatedAt: string;
}

/** Drift found by a run and not yet corrected (see {@link TargetStatus.unresolvedDrift}). */
export interface UnresolvedDrift {
  /** The run that found it. */
  readonly runId: string;
  readonly revision: string;
  /** When it was found (ISO 8601). */
  readonly at: string;
  /** The drifted resources whose planned steps undo the drift. */
  readonly resources: readonly DriftedResource[];
  /** The plan's counts when it was found. */
  readonly counts: ChangeCounts;
}

/** A suspend or resume of a target's scheduled runs, as recorded in its status. */
export interface Suspension {
  readonly suspended: boolean;
  /** When (ISO 8601). */
  readonly at: string;
  readonly by?: string;
  readonly reason?: string;
  /** The person an admin acted for (`by` is the admin). */
  readonly onBehalfOf?: string;
}

/** An upstream revision waiting to be promoted. */
export interface PendingPromotion {
  readonly revision: string;
  /** When the soak time ends (ISO 8601). */
  readonly dueAt?: string;
  /** Why it cannot be timed yet (the upstream is not healthy). */
  readonly waitingFor?: string;
}

/** How a revision reached a target with `promote`. */
export type PromotionKind = "auto" | "manual" | "rollback";

/** One recorded promotion or rollback. */
export interface PromotionRecord {
  readonly id: string;
  readonly target: string;
  /** The upstream target the revision came from (the target itself for a rollback). */
  readonly source: string;
  readonly revision: string;
  /** What the target had applied before. */
  readonly previousRevision?: string;
  readonly kind: PromotionKind;
  /** Who asked, for manual promotions and rollbacks. */
  readonly by?: string;
  readonly reason?: string;
  /** The person an admin asked for (`by` is the admin). */
  readonly onBehalfOf?: string;
  /** When it was decided (ISO 8601); the run that applied it follows. */
  readonly at: string;
}

/** A planned `up` that waits for a person's approval. */
export interface PendingApproval {
  readonly revision: string;
  readonly runId: string;
  readonly counts: ChangeCounts;
  /** Digest of the planned steps; an approval applies only this plan. */
  readonly digest: string;
  /** When the plan was made (ISO 8601). */
  readonly plannedAt: string;
  /** The engine's saved update plan, applied with `pulumi up --plan` once approved. */
  readonly planFile?: string;
  /** Digest of the stack's state the plan was made against; a different state means planning again. */
  readonly stateVersion?: string;
  /** The identities (ids) that asked for the run that made the plan (`ReconcileOptions.requestedBy`). */
  readonly requestedBy?: readonly string[];
}

/** Who ran a run past a change window, and why; recorded in history. */
export interface RunOverride {
  readonly by: string;
  readonly reason: string;
  /** The person an admin acted for (`by` is the admin); approvals through the API. */
  readonly onBehalfOf?: string;
}

/** What started a run. */
export type Trigger =
  | "interval"
  | "schedule"
  | "webhook"
  | "manual"
  | "resync"
  | "retry"
  | "dependency"
  /** A revision the `promote.from` target applied became due. */
  | "promotion"
  | "startup"
  /** A watched Kubernetes object changed: a drift check of the changed resources. */
  | "watch";

/** How a run ended. */
export type RunResult =
  | "applied"
  | "unchanged"
  | "drift-corrected"
  | "drift-detected"
  | "planned"
  | "skipped"
  | "failed"
  | "stalled"
  | "cancelled"
  | "interrupted"
  | "destroyed"
  /** Changes wait for a change window to open. */
  | "deferred"
  /** Changes wait for `Reconciler.approve`. */
  | "awaiting-approval";

/** One row of a target's history. */
export interface RunRecord {
  readonly id: string;
  readonly target: string;
  readonly trigger: Trigger;
  readonly revision?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly result?: RunResult;
  readonly counts?: ChangeCounts;
  readonly drift: boolean;
  readonly error?: string;
  /**
   * The last lines of the run log, secrets redacted; the whole log, written as
   * the run goes, is in the store's {@link RunLogChunk}s.
   */
  readonly log: string;
  /** Set when the run was started past a change window. */
  readonly override?: RunOverride;
  /** Who approved the plan or revision this run applies, and why. */
  readonly approval?: RunOverride;
  /** The planned steps of a run whose preview found changes (what it applied, held or reported). */
  readonly plan?: readonly PlannedStep[];
}

/** A stretch of a run's log as stored, from an offset to {@link offset}. */
export interface RunLogChunk {
  /** Whole lines, each ending in a newline; empty when nothing was written past the offset asked for. */
  readonly text: string;
  /**
   * Where the returned text ends, in UTF-16 code units from the start of the
   * log (JavaScript string length): the offset to read from next.
   */
  readonly offset: number;
}

/** Who asks for a stack's lease: the stack's key, the process-wide owner id and the run. */
export interface StackLockRequest {
  /** Identifies the stack across processes, e.g. backend URL and stack name. */
  readonly key: string;
  /** The holder's owner id, `<hostname>:<pid>:<uuid>`. */
  readonly owner: string;
  /** The target whose run holds the lease (for messages). */
  readonly target: string;
  readonly runId: string;
}

/** A lease on a stack, as held by one run of one process. */
export interface StackLease extends StackLockRequest {
  /** When the holder took the lease (ISO 8601). */
  readonly acquiredAt: string;
  /** When the lease lapses unless renewed (epoch milliseconds). */
  readonly expiresAt: number;
}

/** A process sharing the store as a replica, as it registers itself. */
export interface MemberInfo {
  /** The replica's owner id, `<hostname>:<pid>:<uuid>` (the same id owns its runs and leases). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** When the process started (ISO 8601). */
  readonly startedAt: string;
}

/** A live replica, as the store knows it. */
export interface Member extends MemberInfo {
  /** Its last heartbeat and when its membership lapses without another (epoch milliseconds, store's clock). */
  readonly heartbeatAt: number;
  readonly expiresAt: number;
}

/**
 * The right to write one target's status and runs: held by one replica until
 * it releases it or stops renewing it. Each new holder gets a higher
 * {@link epoch}, so writes of an earlier holder can be told and refused.
 */
export interface TargetLease {
  readonly target: string;
  readonly owner: string;
  /** The fencing token: bumped each time the lease changes hands. */
  readonly epoch: number;
  /** When the lease lapses unless renewed (epoch milliseconds, store's clock). */
  readonly expiresAt: number;
}

/** What a fenced write carries: the writer and its epoch for the target written. */
export interface Fence {
  readonly owner: string;
  readonly epoch: number;
}

/** A command for a target received by any replica, carried out by its owner. */
export type TriggerCommand =
  | {
      readonly kind: "reconcile";
      readonly trigger: Trigger;
      readonly force: boolean;
      readonly override?: RunOverride;
      /** The commit a push named (see `ReconcileOptions.pushedRevision`). */
      readonly pushed?: string;
      /** Who asked (see `ReconcileOptions.requestedBy`). */
      readonly requestedBy?: string;
    }
  | {
      readonly kind: "approve";
      readonly revision?: string;
      readonly by?: string;
      readonly reason?: string;
      readonly onBehalfOf?: string;
    }
  | {
      readonly kind: "promote" | "rollback";
      readonly revision?: string;
      readonly by: string;
      readonly reason: string;
      readonly onBehalfOf?: string;
    }
  | {
      readonly kind: "suspend" | "resume";
      readonly by?: string;
      readonly reason?: string;
      readonly onBehalfOf?: string;
    };

/** A command as stored in the trigger inbox until its owner carried it out. */
export interface StoredTrigger {
  readonly id: string;
  readonly target: string;
  readonly command: TriggerCommand;
  /** The replica that received it. */
  readonly receivedBy: string;
  readonly createdAt: string;
  /** The run that covered it, once done. */
  readonly runId?: string;
  /** Why it could not be carried out (nothing to approve, say), once done. */
  readonly error?: string;
  /** When it was done (ISO 8601); absent while open. */
  readonly doneAt?: string;
}

/**
 * A resource's sync state: `synced` (state matches Git and the live object as
 * far as the last run saw), `drifted` (the last refresh found it changed
 * outside the program), `pending` (Git has a change for it not yet applied),
 * `failed` (the engine reported an error on it in the last run).
 */
export type ResourceSyncState = "synced" | "drifted" | "pending" | "failed";

/**
 * A Kubernetes object's health, after Argo CD's: `Healthy`, `Progressing`
 * (on its way: a rollout, a pending Pod), `Degraded` (failed or stuck),
 * `Missing` (not created yet, or gone), `Unknown` (no rule for its kind, or the
 * state does not say: every resource that is not a Kubernetes object).
 */
export type ResourceHealthStatus = "Healthy" | "Progressing" | "Degraded" | "Missing" | "Unknown";

/** A resource's health and a one-line reason (empty when there is nothing to say). */
export interface ResourceHealth {
  readonly status: ResourceHealthStatus;
  readonly reason: string;
}

/** The run that last created, updated or replaced a resource. */
export interface ResourceChange {
  readonly runId: string;
  readonly revision?: string;
  readonly op: "create" | "update" | "replace";
  /** When that run finished (ISO 8601). */
  readonly at: string;
}

/** One resource a target's stack manages, as the inventory records it (no output values). */
export interface ResourceEntry {
  readonly urn: string;
  /** The Pulumi type token (`kubernetes:apps/v1:Deployment`, `driftless:k8s:WebService`). */
  readonly type: string;
  /** The resource's Pulumi name (the last part of its URN). */
  readonly name: string;
  /** The provider's URN, without its id (absent for components and the stack). */
  readonly provider?: string;
  /** The parent's URN: components and the stack form a tree. */
  readonly parent?: string;
  readonly protect: boolean;
  /** A custom resource (one a provider manages) rather than a component. */
  readonly custom: boolean;
  /** For a Kubernetes object: what names it, from its outputs. */
  readonly kubernetes?: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace?: string;
    readonly name: string;
  };
  readonly sync: ResourceSyncState;
  /** For `drifted`: the property paths the refresh found changed (absent when it could not list them). */
  readonly driftPaths?: readonly string[];
  /** For `pending`: the operation Git's change would do. */
  readonly pendingOp?: "create" | "update" | "delete" | "replace";
  /** For `failed`: the engine's error on it. */
  readonly error?: string;
  readonly health: ResourceHealth;
  /** The run that last changed it, when a run Driftless recorded did. */
  readonly lastChange?: ResourceChange;
  /**
   * The commit `@driftless/core`'s provenance stamped on it (a Kubernetes
   * object's `driftless.dev/commit` annotation or label, an AWS resource's
   * `driftless:commit` tag), as its live state shows it: the commit that last
   * wrote it, whoever applied it.
   */
  readonly commit?: string;
}

/** What a target's stack manages, as of the last run that touched the stack. */
export interface TargetInventory {
  readonly target: string;
  /** The run after which the inventory was read. */
  readonly runId: string;
  readonly revision?: string;
  /** When it was read (ISO 8601). */
  readonly at: string;
  /** The resources in state order (parents before children), plus pending creates. */
  readonly resources: readonly ResourceEntry[];
}

/**
 * What a run did to a resource, for its history: applied a `create`,
 * `update`, `replace` or `delete`, or found it `drift`ed (changed outside the
 * program, whether the run then put it back or only reported it).
 */
export type ResourceHistoryOp = "create" | "update" | "replace" | "delete" | "drift";

/** One run's change to one resource (see `Reconciler.resourceHistory`). */
export interface ResourceHistoryEntry {
  readonly urn: string;
  readonly type: string;
  readonly runId: string;
  readonly revision?: string;
  /** When the run finished (ISO 8601). */
  readonly at: string;
  readonly op: ResourceHistoryOp;
  /** The changed property paths (the engine's diff for a change, the refresh's for drift); empty when unknown. */
  readonly paths: readonly string[];
  /** The property changes of an update or replace, values with secrets masked as in the run's plan. */
  readonly changes?: readonly PropertyChange[];
}

/** A resource with its children, for a tree (see `resourceTree`). */
export interface ResourceNode extends ResourceEntry {
  readonly children: readonly ResourceNode[];
}
