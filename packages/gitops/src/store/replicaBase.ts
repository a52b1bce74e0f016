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

  async heartbeat(member: MemberInfo, ttlMs: number): Promise<{ members: Member[]; leases: TargetLease[] }> {
    return this.replicas.heartbeat(member, ttlMs);
  }

  async leave(id: string): Promise<void> {
    return this.replicas.leave(id);
  }

  async listMembers(): Promise<Member[]> {
    return this.replicas.listMembers();
  }

  async acquireTarget(target: string, owner: string, ttlMs: number): Promise<Acquired> {
    return this.replicas.acquireTarget(target, owner, ttlMs);
  }

  async releaseTarget(target: string, fence: Fence): Promise<void> {
    return this.replicas.releaseTarget(target, fence);
  }

  async listTargetLeases(targets?: readonly string[]): Promise<TargetLease[]> {
    return this.replicas.listTargetLeases(targets);
  }

  async addTrigger(trigger: Parameters<TriggerInbox["addTrigger"]>[0]): Promise<StoredTrigger> {
    return this.replicas.addTrigger(trigger);
  }

  async openTriggers(owner: string): Promise<StoredTrigger[]> {
    return this.replicas.openTriggers(owner);
  }

  async getTrigger(id: string): Promise<StoredTrigger | undefined> {
    return this.replicas.getTrigger(id);
  }

  async completeTrigger(
    id: string,
    outcome: { runId?: string; error?: string },
    fence: Fence,
  ): Promise<void> {
    return this.replicas.completeTrigger(id, outcome, fence);
  }

  async pruneTriggers(olderThanMs: number): Promise<void> {
    return this.replicas.pruneTriggers(olderThanMs);
  }
}
