// Targets a reconciler finds already applied: statuses stored ahead of its
// start, each at its repository's head with a drift check just done, so
// starting it runs no engine (the replicas bench and the host latency test).
import { PostgresStore } from "@driftless/gitops";

/** Stores an applied status for targets `t-0` … `t-{count-1}`, target i on `heads[i % heads.length]`. */
export async function seedUnchangedTargets(
  url: string,
  heads: readonly string[],
  count: number,
): Promise<void> {
  const store = await PostgresStore.open(url);
  try {
    const now = new Date().toISOString();
    for (let i = 0; i < count; i++) {
      await store.putStatus({
        name: `t-${i}`,
        conditions: [],
        lastAppliedRevision: heads[i % heads.length] as string,
        lastDriftCheckAt: now,
        updatedAt: now,
      });
    }
  } finally {
    await store.close();
  }
}
