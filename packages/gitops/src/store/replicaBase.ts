/**
 * The replica half of a {@link Store}: membership, target ownership and the
 * trigger inbox, answered by the store's replica tables. The SQLite and
 * PostgreSQL stores extend it rather than forward each method by hand.
 */
import type { Fence, Member, MemberInfo, StoredTrigger, TargetLease } from "../types.js";
import type { Acquired, MembershipStore, OwnershipStore, Store, TriggerInbox } from "./store.js";

/** The replica tables of one database, as a store's replica methods use them. */
export type ReplicaTables = MembershipStore & OwnershipStore & TriggerInbox;

/** Forwards the replica methods of a {@link Store} to its {@link ReplicaTables}. */
export abstract class ReplicaStoreBase implements MembershipStore, OwnershipStore, TriggerInbox {
  /** The store's replica tables, on the store's own database connection. */
  protected abstract readonly replicas: ReplicaTables;

  heartbeat(member: MemberInfo, ttlMs: number): { members: Member[]; leases: TargetLease[] } {
    return this.replicas.heartbeat(member, ttlMs);
  }

  leave(id: string): void {
    this.replicas.leave(id);
  }

  listMembers(): Member[] {
    return this.replicas.listMembers();
  }

  acquireTarget(target: string, owner: string, ttlMs: number): Acquired {
    return this.replicas.acquireTarget(target, owner, ttlMs);
  }

  releaseTarget(target: string, fence: Fence): void {
    this.replicas.releaseTarget(target, fence);
  }

  listTargetLeases(targets?: readonly string[]): TargetLease[] {
    return this.replicas.listTargetLeases(targets);
  }

  addTrigger(trigger: Parameters<TriggerInbox["addTrigger"]>[0]): StoredTrigger {
    return this.replicas.addTrigger(trigger);
  }

  openTriggers(owner: string): StoredTrigger[] {
    return this.replicas.openTriggers(owner);
  }

  getTrigger(id: string): StoredTrigger | undefined {
    return this.replicas.getTrigger(id);
  }

  completeTrigger(id: string, outcome: { runId?: string; error?: string }, fence: Fence): void {
    this.replicas.completeTrigger(id, outcome, fence);
  }

  pruneTriggers(olderThanMs: number): void {
    this.replicas.pruneTriggers(olderThanMs);
  }
}
