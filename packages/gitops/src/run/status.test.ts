import { describe, expect, it } from "vitest";
import type { RunRecord, TargetStatus } from "../types.js";
import { finishStatus, initialStatus, type RunOutcome, sameTreeStatus } from "./status.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const T0 = new Date("2026-12-01T10:00:00Z");
const T1 = new Date("2026-12-01T11:00:00Z");
const T2 = new Date("2026-12-01T12:00:00Z");

const applied = (revision: string, at: Date, extra: Partial<RunOutcome> = {}): RunOutcome => {
  const run: RunRecord = {
    id: `run-${revision.slice(0, 4)}-${at.getTime()}`,
    target: "site",
    trigger: "interval",
    revision,
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    result: "applied",
    drift: false,
    log: "",
  };
  return { run, applies: true, ...extra };
};
const after = (before: TargetStatus, outcome: RunOutcome, at: Date) =>
  finishStatus(before, outcome, at).status;

describe("when a revision counts as applied (the promotion soak's start)", () => {
  const first = after(initialStatus("site", T0), applied(A, T0), T0);

  it("starts at the run that applied a revision with a new tree", () => {
    expect(first.revisionAppliedAt).toBe(T0.toISOString());
    expect(after(first, applied(B, T1), T1).revisionAppliedAt).toBe(T1.toISOString());
  });

  it("is kept by a revision with the applied tree, recorded without a run or by a drift check", () => {
    const recorded = sameTreeStatus(first, B, T1).status;
    expect(recorded.lastAppliedRevision).toBe(B);
    expect(recorded.programRevision).toBe(A);
    expect(recorded.revisionAppliedAt).toBe(T0.toISOString());
    // A second same-tree commit still runs the program applied as A.
    expect(sameTreeStatus(recorded, C, T2).status).toMatchObject({
      programRevision: A,
      revisionAppliedAt: T0.toISOString(),
    });
    const checked = after(first, applied(B, T1, { programRevision: A }), T1);
    expect(checked.lastAppliedRevision).toBe(B);
    expect(checked.revisionAppliedAt).toBe(T0.toISOString());
    // The next revision with another tree applies as itself, and the soak starts again.
    const changed = after(checked, applied(C, T2), T2);
    expect(changed.revisionAppliedAt).toBe(T2.toISOString());
    expect(changed.programRevision).toBeUndefined();
  });
});

describe("Drifted after a run whose plan waits", () => {
  const drifted: TargetStatus = {
    ...initialStatus("site", T0),
    conditions: [
      {
        type: "Drifted",
        status: true,
        reason: "DriftDetected",
        message: "drift found",
        since: T0.toISOString(),
      },
    ],
    unresolvedDrift: {
      runId: "run-1",
      revision: A,
      at: T0.toISOString(),
      resources: [
        { urn: "urn:pulumi:dev::site::random:index:RandomPet::pet", type: "random:index:RandomPet" },
      ],
      counts: { create: 0, update: 1, delete: 0, replace: 0, same: 3 },
    },
  };
  const held = (result: "awaiting-approval" | "deferred", extra: Partial<RunOutcome> = {}): RunOutcome => {
    const outcome = applied(B, T1, extra);
    return {
      ...outcome,
      run: { ...outcome.run, result, counts: { create: 1, update: 0, delete: 0, replace: 0, same: 4 } },
    };
  };
  const driftedCondition = (s: TargetStatus) => s.conditions.find((c) => c.type === "Drifted");

  it("is in sync once a refreshing preview held for approval or its window found no drift", () => {
    for (const result of ["awaiting-approval", "deferred"] as const) {
      const next = after(drifted, held(result, { driftChecked: true }), T1);
      expect(driftedCondition(next)).toMatchObject({ status: false, reason: "InSync" });
      expect(next.unresolvedDrift).toBeUndefined();
    }
  });

  it("stays as it was when the run did not check (no refresh, or it waited before its preview) or found drift", () => {
    for (const outcome of [
      held("awaiting-approval"),
      held("deferred"),
      {
        ...held("awaiting-approval", { driftChecked: true }),
        run: { ...held("awaiting-approval").run, drift: true },
      },
    ]) {
      const next = after(drifted, outcome, T1);
      expect(driftedCondition(next)).toMatchObject({ status: true, reason: "DriftDetected" });
      expect(next.unresolvedDrift?.runId).toBe("run-1");
    }
  });
});
