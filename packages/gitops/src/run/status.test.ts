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
