import { describe, expect, it } from "vitest";
import { rendezvousOwner, resolveReplicaOptions } from "./replicas.js";

describe("rendezvous ownership", () => {
  const targets = Array.from({ length: 300 }, (_, i) => `target-${i}`);

  it("spreads targets over the members and gives every member the same answer", () => {
    const members = ["host-a:1:x", "host-b:2:y", "host-c:3:z"];
    const owners = targets.map((t) => rendezvousOwner(members, t));
    expect(targets.map((t) => rendezvousOwner([...members].reverse(), t))).toEqual(owners);
    for (const member of members) {
      const share = owners.filter((o) => o === member).length;
      expect(share).toBeGreaterThan(60);
      expect(share).toBeLessThan(140);
    }
    expect(rendezvousOwner([], "site")).toBeUndefined();
  });

  it("moves only the targets of a member that leaves, and only to a member that joins", () => {
    const three = ["a", "b", "c"];
    const before = new Map(targets.map((t) => [t, rendezvousOwner(three, t)]));
    for (const t of targets) {
      const after = rendezvousOwner(["a", "b"], t);
      if (before.get(t) !== "c") expect(after).toBe(before.get(t));
      const joined = rendezvousOwner([...three, "d"], t);
      if (joined !== "d") expect(joined).toBe(before.get(t));
    }
  });
});

describe("replica options", () => {
  it("fills in a heartbeat of a quarter of the lease", () => {
    expect(resolveReplicaOptions(true)).toEqual({
      leaseTtlMs: 20_000,
      heartbeatMs: 5000,
      triggerPollMs: 1000,
    });
    expect(resolveReplicaOptions({ leaseTtlMs: 4000 })).toMatchObject({ heartbeatMs: 1000 });
  });

  it("refuses a heartbeat that would let the lease lapse between beats, naming the field", () => {
    expect(() => resolveReplicaOptions({ leaseTtlMs: 4000, heartbeatMs: 3000 })).toThrow(
      /`replicas.heartbeatMs` must be at most half of leaseTtlMs \(4000\), got 3000/,
    );
    expect(() => resolveReplicaOptions({ leaseTtlMs: 10.5 })).toThrow(
      /`replicas.leaseTtlMs` must be a whole number/,
    );
  });
});
