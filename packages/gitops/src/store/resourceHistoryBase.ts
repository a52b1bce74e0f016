/**
 * The resource-history half of a {@link Store}, forwarded to the store's
 * history table the way {@link ReplicaStoreBase} forwards the replica half,
 * so the stores' own files stay about status and runs.
 */
import type { Fence, ResourceHistoryEntry } from "../types.js";
import { ReplicaStoreBase } from "./replicaBase.js";
import type { ResourceHistoryStore } from "./store.js";

/** Forwards {@link ResourceHistoryStore} to {@link resourceChanges}. */
export abstract class HistoryStoreBase extends ReplicaStoreBase implements ResourceHistoryStore {
  /** The store's resource history table, on the store's own database connection. */
  protected abstract readonly resourceChanges: ResourceHistoryStore;

  async recordResourceChanges(
    target: string,
    entries: readonly ResourceHistoryEntry[],
    fence?: Fence,
  ): Promise<void> {
    return this.resourceChanges.recordResourceChanges(target, entries, fence);
  }

  async resourceHistory(target: string, urn: string, limit?: number): Promise<ResourceHistoryEntry[]> {
    return this.resourceChanges.resourceHistory(target, urn, limit);
  }
}
