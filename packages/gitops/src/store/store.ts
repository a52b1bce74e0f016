/**
 * Storage behind small interfaces (status, resource inventories and history, run history, run logs, promotion
 * log, stack leases, dashboard logouts, the audit log, and for replicas membership, target
 * ownership and the trigger inbox); `sqlite/store.ts` is the embedded implementation of all of
 * them, `postgres/store.ts` the one for several hosts.
 */

import type {
  Fence,
  Member,
  MemberInfo,
  PromotionRecord,
  ResourceHistoryEntry,
  RunLogChunk,
  RunRecord,
  StackLease,
  StackLockRequest,
  StoredTrigger,
  TargetInventory,
  TargetLease,
  TargetStatus,
  TriggerCommand,
} from "../types.js";
import type { AuditEntry, AuditRecord } from "./audit/chain.js";

export type * from "../types.js";

/** Targets' current status, one document per target. */
export interface StatusStore {
  getStatus(name: string): Promise<TargetStatus | undefined>;
  listStatuses(): Promise<TargetStatus[]>;
  /**
   * Stores a target's status.
   * @param fence - the writer's lease on the target: the write is refused
   *   (atomically) unless the writer still holds it at that epoch
   * @throws FencedError when `fence` is stale
   */
  putStatus(status: TargetStatus, fence?: Fence): Promise<void>;
  /** Stores a status only when the target has none yet; `false` when it had one. */
  insertStatus(status: TargetStatus): Promise<boolean>;
  /** Forgets a target's status and inventory (its history is kept). */
  deleteTarget(name: string): Promise<void>;
}

/**
 * What each target's stack manages, as of the last run that touched it: one
 * document per target, replaced as a whole (it holds no output values).
 */
export interface InventoryStore {
  /**
   * Replaces a target's inventory.
   * @param fence - the writer's lease on the target, as for {@link StatusStore.putStatus}
   * @throws FencedError when `fence` is stale
   */
  putInventory(inventory: TargetInventory, fence?: Fence): Promise<void>;
  /** A target's inventory; `undefined` before a run read one. */
  getInventory(target: string): Promise<TargetInventory | undefined>;
}

/** How many history entries {@link ResourceHistoryStore} keeps per resource; older ones are dropped as new ones come. */
export const RESOURCE_HISTORY_LIMIT = 50;

/**
 * Per resource, the runs that changed it and how, newest first. Bounded: a
 * resource keeps its last {@link RESOURCE_HISTORY_LIMIT} entries. Kept when a
 * target is forgotten, as its runs are.
 */
export interface ResourceHistoryStore {
  /**
   * Records what one run did to a target's resources, in the order given.
   * @param fence - the writer's lease on the target, as for {@link StatusStore.putStatus}
   * @throws FencedError when `fence` is stale
   */
  recordResourceChanges(
    target: string,
    entries: readonly ResourceHistoryEntry[],
    fence?: Fence,
  ): Promise<void>;
  /** A resource's entries, newest first (the last recorded first within one run). */
  resourceHistory(target: string, urn: string, limit?: number): Promise<ResourceHistoryEntry[]>;
}

/** The history of runs: started, finished, interrupted by a process that died. */
export interface RunHistory {
  /** Records a run's start; `owner` is the owner id of the process running it (see {@link markInterrupted}). */
  startRun(run: RunRecord, owner?: string, fence?: Fence): Promise<void>;
  /**
   * Records a run's end. With `fence`, refused (atomically) unless the writer
   * still holds the target's lease at that epoch and the run is unfinished.
   * @throws FencedError when `fence` is stale
   */
  finishRun(run: RunRecord, fence?: Fence): Promise<void>;
  /**
   * Records that an unfinished run found drift, the moment it does (its
   * finish, or its interruption, keeps the mark).
   * @throws FencedError when `fence` is stale
   */
  markRunDrift(run: { readonly id: string; readonly target: string }, fence?: Fence): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** A target's runs, newest first. */
  listRuns(target: string, limit?: number): Promise<RunRecord[]>;
  /** Revisions a target applied successfully, most recently applied first, each once. */
  appliedRevisions(target: string, limit?: number): Promise<string[]>;
  /**
   * Marks runs that never finished because their process died as `interrupted`
   * and returns them: runs without an owner (recorded by older releases), runs
   * of a process of this host that no longer runs, and runs of another host's
   * process that holds no unexpired stack lease. Leases such dead processes of
   * this host held are released. Runs of live processes sharing the store are
   * left alone.
   * @param targets - only runs and leases of these targets (the ones the caller
   *   recovers); all when omitted
   */
  markInterrupted(targets?: readonly string[]): Promise<RunRecord[]>;
}

/**
 * Run logs, written while runs go: one writer per run (the process running
 * it) appends whole lines; readers follow by offset. A log is complete once
 * its run is finished in {@link RunHistory} (interrupted runs included), so
 * what a process wrote before it died stays readable.
 */
export interface RunLogStore {
  /**
   * Appends text to a run's log, in order after what was appended before.
   * @param chunk - whole lines, each ending in a newline
   */
  appendLog(runId: string, chunk: string): Promise<void>;
  /**
   * A run's log from `fromOffset` to its current end; empty text at the end or
   * for a run without a log. An offset inside a stored chunk starts mid-chunk.
   * @param fromOffset - UTF-16 code units from the start, as returned in {@link RunLogChunk.offset}
   */
  readLog(runId: string, fromOffset?: number): Promise<RunLogChunk>;
}

/** Promotions and rollbacks between targets, append-only. */
export interface PromotionLog {
  /** Records a promotion or rollback. */
  recordPromotion(promotion: PromotionRecord): Promise<void>;
  /** A target's promotions and rollbacks, newest first. */
  listPromotions(target: string, limit?: number): Promise<PromotionRecord[]>;
}

/** Leases on stacks, shared by every process using the store. */
export interface LeaseStore {
  /**
   * Takes the lease on a stack, atomically across every process sharing the
   * store. The lease is free when nobody holds it, when it expired, when its
   * holder is a dead process of this host, or when the same owner and run
   * already hold it (then it is renewed).
   * @param ttlMs - how long the lease lasts unless renewed
   * @returns `undefined` when the lease was taken, otherwise the current holder's lease
   */
  tryLockStack(request: StackLockRequest, ttlMs: number): Promise<StackLease | undefined>;
  /** The lease on a stack as recorded, expired or not; `undefined` when nobody holds it. */
  getStackLock(key: string): Promise<StackLease | undefined>;
  /**
   * Extends the lease `owner` holds on a stack to `ttlMs` from now.
   * @returns `false` when `owner` does not hold it (it was released or taken over)
   */
  renewStackLock(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease `owner` holds on a stack; a lease held by another owner is left alone. */
  unlockStack(key: string, owner: string): Promise<void>;
}

/** Replicas sharing the store: who is alive, on the store's clock. */
export interface MembershipStore {
  /**
   * Registers or refreshes a member until `ttlMs` from now, renews every
   * target lease it holds for as long, and forgets members whose membership
   * lapsed. Returns the live members (by id) and the leases this member holds.
   */
  heartbeat(member: MemberInfo, ttlMs: number): Promise<{ members: Member[]; leases: TargetLease[] }>;
  /** Removes a member and releases its target leases (a clean shutdown). */
  leave(id: string): Promise<void>;
  /** The live members, by id. */
  listMembers(): Promise<Member[]>;
}

/** What {@link OwnershipStore.acquireTarget} did. */
export type Acquired =
  | {
      readonly taken: true;
      readonly lease: TargetLease;
      /** The owner whose lease lapsed and was taken over (not set for a free or released lease, or a renewal). */
      readonly tookOverFrom?: string;
      /** Runs of the target the previous owner left unfinished, now marked `interrupted`. */
      readonly interrupted: readonly RunRecord[];
    }
  | { readonly taken: false; readonly holder: TargetLease };

/** Which replica owns which target: one lease per target with a fencing epoch. */
export interface OwnershipStore {
  /**
   * Takes a target's lease for `owner` when it is free, released or lapsed
   * (bumping the epoch), or renews it when `owner` holds it. Taking over a
   * lapsed lease marks the target's unfinished runs of other owners as
   * interrupted, in the same transaction. A lease another transaction is
   * writing under at that moment is not taken (no waiting on its lock): the
   * caller tries again at its next heartbeat.
   */
  acquireTarget(target: string, owner: string, ttlMs: number): Promise<Acquired>;
  /** Releases a lease `fence` holds; a lease that changed hands is left alone. */
  releaseTarget(target: string, fence: Fence): Promise<void>;
  /** Held leases (expired ones included: `expiresAt` says), by target; only the given targets' when asked. */
  listTargetLeases(targets?: readonly string[]): Promise<TargetLease[]>;
}

/**
 * Commands for targets received by any replica, kept until the owner carried
 * them out: a command answered 202 survives the receiver and the owner dying.
 */
export interface TriggerInbox {
  /** Stores a command for a target. */
  addTrigger(trigger: {
    readonly id: string;
    readonly target: string;
    readonly command: TriggerCommand;
    readonly receivedBy: string;
  }): Promise<StoredTrigger>;
  /** The open commands of the targets `owner` holds the lease of, oldest first. */
  openTriggers(owner: string): Promise<StoredTrigger[]>;
  /** One command, open or done. */
  getTrigger(id: string): Promise<StoredTrigger | undefined>;
  /**
   * Marks a command done with the run that covered it or why it failed.
   * @throws FencedError when `fence` no longer holds the target
   */
  completeTrigger(id: string, outcome: { runId?: string; error?: string }, fence: Fence): Promise<void>;
  /** Forgets commands done more than `olderThanMs` ago. */
  pruneTriggers(olderThanMs: number): Promise<void>;
  /**
   * Calls `listener` with the target of each command stored from now on, by
   * any process, as it is stored (PostgreSQL `LISTEN/NOTIFY`); stores without
   * notifications leave it out and owners poll {@link openTriggers}. A
   * notification may be lost (a dropped connection): polling stays the fallback.
   * Resolves, once listening (or once connecting failed: it retries in the
   * background), with the function that stops calling it.
   */
  onTrigger?(listener: (target: string) => void): Promise<() => void>;
}

/**
 * Dashboard sessions that were logged out, until they would have expired.
 * Sessions are signed cookies held by no server; only their end is stored, so
 * every process sharing the store refuses a logged-out cookie.
 */
export interface SessionRevocations {
  /**
   * Refuses a session from now on, and forgets revocations of sessions that
   * expired (a cookie past its expiry is refused anyway).
   * @param expiresAt - when the session expires, in epoch milliseconds
   */
  revokeSession(id: string, expiresAt: number): Promise<void>;
  /** Whether the session was revoked (and is not yet forgotten). */
  isSessionRevoked(id: string): Promise<boolean>;
}

/** Which audit entries {@link AuditStore.listAudit} and {@link AuditStore.readAudit} return. */
export interface AuditFilter {
  /** Only entries about this target. */
  readonly target?: string;
  /** Only entries of this actor: its name or its identity id. */
  readonly actor?: string;
  /** Only entries appended at or after this time (ISO 8601). */
  readonly since?: string;
}

/** Who owns a personal token: the signed-in user's identity when it was created (its roles come from the policy). */
export interface PersonalTokenOwner {
  /** The owner's stable identity id (`oidc:<issuer>#<subject>`). */
  readonly id: string;
  readonly name: string;
  readonly email?: string;
  readonly subject?: string;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
}

/** A personal API token as stored: never the token, only its sha256 digest. */
export interface PersonalTokenRecord {
  /** Public id, part of the token (`dlpt_<id>_<secret>`), so it is found without scanning. */
  readonly id: string;
  /** What the owner called it ("laptop", "ci-experiment"). */
  readonly label: string;
  readonly owner: PersonalTokenOwner;
  /** sha256 of the whole token, hex. */
  readonly digest: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601; the token is refused from then on. */
  readonly expiresAt: string;
  /** ISO 8601, once revoked. */
  readonly revokedAt?: string;
}

/** Personal API tokens of signed-in users, hashed at rest; every replica sharing the store sees the same. */
export interface PersonalTokenStore {
  addPersonalToken(record: PersonalTokenRecord): Promise<void>;
  /** A token by id, revoked or expired ones too (the caller decides). */
  personalToken(id: string): Promise<PersonalTokenRecord | undefined>;
  /** An owner's tokens, newest first, revoked ones too. */
  listPersonalTokens(ownerId: string): Promise<PersonalTokenRecord[]>;
  /** Revokes an owner's token; `false` when the owner has no such token (or it was revoked already). */
  revokePersonalToken(id: string, ownerId: string, at: string): Promise<boolean>;
}

/** Where a review stack is in its life (see `ReviewStackRecord.state`). */
export type ReviewStackState = "waiting" | "applying" | "applied" | "failed" | "destroying" | "stalled";

/** A pull request's review stack as recorded, so nothing is left behind across restarts. */
export interface ReviewStackRecord {
  /** The base target the review stack derives from. */
  readonly target: string;
  /** The pull request's number. */
  readonly number: number;
  /** The stack's name (the `reviewStacks.stack` template with `{number}` and `{branch}` substituted). */
  readonly stack: string;
  /** The pull request's head branch. */
  readonly branch: string;
  /** The head commit last asked for. */
  readonly headSha: string;
  readonly state: ReviewStackState;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601, the last change of this record. */
  readonly updatedAt: string;
  /** ISO 8601, the last push to the pull request (the `ttl` counts from it). */
  readonly lastPushAt: string;
  /** The comment on the pull request, when the Git host told its id. */
  readonly commentId?: string;
  /** The last error (already masked). */
  readonly error?: string;
  /** Destroy attempts that failed in a row (for the backoff). */
  readonly attempts: number;
}

/** Review stacks by target and pull request number; every replica sharing the store sees the same. */
export interface ReviewStackStore {
  /** Inserts or replaces the record of `(target, number)`. */
  putReviewStack(record: ReviewStackRecord): Promise<void>;
  getReviewStack(target: string, number: number): Promise<ReviewStackRecord | undefined>;
  /** Every record (of one target when given), oldest first. */
  listReviewStacks(target?: string): Promise<ReviewStackRecord[]>;
  /** Forgets a record; `false` when there was none. */
  deleteReviewStack(target: string, number: number): Promise<boolean>;
}

/**
 * The audit log: append-only entries linked by a hash chain (see
 * `audit/entry.ts`). Appends are serialized across every process sharing the
 * store, so the chain never forks.
 */
export interface AuditStore {
  /**
   * Appends an entry after the current head, numbered, timed and hashed in
   * the same transaction that reads the head.
   */
  appendAudit(record: AuditRecord): Promise<AuditEntry>;
  /** Entries that match `filter`, newest first, at most `limit` (default 100). */
  listAudit(filter?: AuditFilter & { readonly limit?: number }): Promise<AuditEntry[]>;
  /**
   * Entries after id `afterId` in id order, at most `limit`: a page of the
   * log for verifying it or following it (pass the last id read as the next `afterId`).
   */
  readAudit(afterId: number, limit: number, filter?: AuditFilter): Promise<AuditEntry[]>;
  /** The newest entry; `undefined` while the log is empty. */
  auditHead(): Promise<AuditEntry | undefined>;
}

/**
 * Where status, history, run logs, promotions, leases, dashboard logouts, the audit log and replica
 * coordination live, as one database serves them. {@link SqliteStore} is the embedded
 * default; every implementation passes the contract suite in `store.contract.test.ts`.
 */
export interface Store
  extends StatusStore,
    InventoryStore,
    ResourceHistoryStore,
    RunHistory,
    RunLogStore,
    PromotionLog,
    LeaseStore,
    MembershipStore,
    OwnershipStore,
    TriggerInbox,
    SessionRevocations,
    AuditStore {
  readonly isOpen: boolean;
  /** Personal API tokens (a separate concern, kept beside the rest). */
  readonly personalTokens: PersonalTokenStore;
  /** Review stacks of pull requests (a separate concern, kept beside the rest). */
  readonly reviewStacks: ReviewStackStore;
  /** Whether the database answers now, for readiness; a store without a server leaves it out. */
  ping?(): Promise<boolean>;
  close(): Promise<void>;
}
