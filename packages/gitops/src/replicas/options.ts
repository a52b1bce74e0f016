/**
 * The replica set's options and who owns a target: rendezvous hashing over
 * the live members (see ./replicas.ts).
 */
import { createHash } from "node:crypto";
import { SpecError } from "../errors.js";

/** How replicas sharing a store coordinate; the same on every replica. */
export interface ReplicaOptions {
  /**
   * How long a replica's membership and target leases last without a
   * heartbeat (on the database's clock): a replica that stops is replaced
   * after this long. Stack leases use it too.
   * @default 20000
   */
  readonly leaseTtlMs?: number;
  /** How often a replica heartbeats, renews its leases and rebalances. @default leaseTtlMs / 4 */
  readonly heartbeatMs?: number;
  /**
   * How often an owner looks for commands other replicas received for its
   * targets: the fallback where the store announces them (PostgreSQL
   * `LISTEN/NOTIFY`), the way where it does not (SQLite).
   * @default 1000
   */
  readonly triggerPollMs?: number;
}

/** {@link ReplicaOptions} with defaults filled in. */
export interface ResolvedReplicaOptions {
  readonly leaseTtlMs: number;
  readonly heartbeatMs: number;
  readonly triggerPollMs: number;
}

/** Fills in defaults. @throws SpecError naming the field and the value */
export function resolveReplicaOptions(options: ReplicaOptions | true): ResolvedReplicaOptions {
  const given = options === true ? {} : options;
  const leaseTtlMs = given.leaseTtlMs ?? 20_000;
  const heartbeatMs = given.heartbeatMs ?? Math.max(100, Math.floor(leaseTtlMs / 4));
  const triggerPollMs = given.triggerPollMs ?? 1000;
  const issues = [
    ["leaseTtlMs", leaseTtlMs, 200],
    ["heartbeatMs", heartbeatMs, 50],
    ["triggerPollMs", triggerPollMs, 50],
  ]
    .filter(([, value, min]) => !Number.isInteger(value) || (value as number) < (min as number))
    .map(([path, value, min]) => ({
      path: `replicas.${path}`,
      message: `must be a whole number of milliseconds of at least ${min}, got ${value}`,
    }));
  if (heartbeatMs * 2 > leaseTtlMs) {
    issues.push({
      path: "replicas.heartbeatMs",
      message: `must be at most half of leaseTtlMs (${leaseTtlMs}), got ${heartbeatMs}`,
    });
  }
  if (issues.length > 0) throw new SpecError("Reconciler options", issues);
  return { leaseTtlMs, heartbeatMs, triggerPollMs };
}

/**
 * The member that owns a target: the highest hash of (member, target) among
 * the live members. When a member joins or leaves, only the targets whose
 * highest hash it has (or had) move.
 */
export function rendezvousOwner(members: readonly string[], target: string): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const member of members) {
    const score = createHash("sha1").update(member).update("\0").update(target).digest().readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && best !== undefined && member < best)) {
      best = member;
      bestScore = score;
    }
  }
  return best;
}
