import { describe, expect, it } from "vitest";
import type { Plan } from "../engine/types.js";
import { resolveTarget } from "../spec/spec.js";
import type { TargetStatus } from "../types.js";
import { decide, hasConfigChanges, hasGitChanges, isDrift, needsApproval, planDigest } from "./decide.js";

const REV_A = "a".repeat(40);
const REV_B = "b".repeat(40);
const target = (extra: Record<string, unknown> = {}) =>
  resolveTarget(
    {
      name: "site",
      repo: "https://example.com/r",
      stack: "dev",
      passphrase: "p",
      resync: "10m",
      ...extra,
    } as Parameters<typeof resolveTarget>[0],
    { dataDir: "/tmp/driftless-decide-test" },
  );
const NOW = Date.parse("2026-01-01T12:00:00.000Z");
const status = (extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name: "site",
  conditions: [],
  updatedAt: "2026-01-01T00:00:00.000Z",
  ...extra,
});
const input = (s: TargetStatus, extra: Partial<Parameters<typeof decide>[0]> = {}) => ({
  target: target(),
  status: s,
  revision: REV_A,
  trigger: "interval" as const,
  force: false,
  needsRecovery: false,
  now: NOW,
  ...extra,
});
const plan = (urns: string[], drift?: string[]): Plan => ({
  counts: { create: 0, update: urns.length, delete: 0, replace: 0, same: 0 },
  steps: urns.map((urn) => ({ op: "update", urn, type: "x:y:Z" })),
  changes: urns.length > 0,
  ...(drift ? { drift: drift.map((urn) => ({ urn, type: "x:y:Z" })) } : {}),
});

describe("decide", () => {
  const applied = status({
    lastAppliedRevision: REV_A,
    lastDriftCheckAt: new Date(NOW - 60_000).toISOString(),
  });

  it("skips an applied revision with no resync due, and runs a new one", () => {
    expect(decide(input(applied))).toMatchObject({ run: false });
    expect(decide(input(applied, { revision: REV_B }))).toEqual({
      run: true,
      trigger: "interval",
      approved: false,
    });
    expect(decide(input(applied, { force: true }))).toMatchObject({ run: true });
    expect(decide(input(applied, { needsRecovery: true }))).toMatchObject({ run: true });
  });

  it("turns a scheduled check into a resync when only the resync is due", () => {
    const stale = { ...applied, lastDriftCheckAt: new Date(NOW - 11 * 60_000).toISOString() };
    expect(decide(input(stale))).toEqual({ run: true, trigger: "resync", approved: false });
    expect(decide(input(stale, { trigger: "startup" }))).toMatchObject({ trigger: "resync" });
    expect(decide(input(stale, { trigger: "webhook" }))).toMatchObject({ trigger: "webhook" });
  });

  it("leaves stalled, held and deferred revisions alone until approved or forced", () => {
    expect(decide(input(status({ stalledRevision: REV_A })))).toMatchObject({ run: false });
    expect(decide(input(status({ stalledRevision: REV_A, approvedRevision: REV_A })))).toMatchObject({
      run: true,
      approved: true,
    });
    const held = status({
      awaitingApproval: { revision: REV_A, runId: "r", counts: plan([]).counts, digest: "d", plannedAt: "x" },
    });
    expect(decide(input(held))).toMatchObject({ run: false });
    const deferred = status({
      deferredUntil: new Date(NOW + 60_000).toISOString(),
      lastAttemptedRevision: REV_A,
    });
    expect(decide(input(deferred))).toMatchObject({ run: false });
    expect(decide(input(deferred, { force: true }))).toMatchObject({ run: true });
  });

  it("records a revision with the applied tree as applied, unless the target has something to clear", () => {
    const ready = {
      ...applied,
      conditions: [{ type: "Ready" as const, status: true, reason: "Applied", message: "", since: "x" }],
    };
    const sameTree = { revision: REV_B, sameTree: true };
    expect(decide(input(ready, sameTree))).toEqual({
      run: false,
      why: "the revision has the applied revision's tree",
      sameTree: true,
    });
    // A stall on another revision, a failure, a wait, drift to put back, a resync or a person: it runs.
    expect(decide(input({ ...ready, stalledRevision: "c".repeat(40) }, sameTree))).toMatchObject({
      run: true,
    });
    const failed = { ...ready, conditions: [{ ...ready.conditions[0], status: false, reason: "Failed" }] };
    expect(decide(input(failed as TargetStatus, sameTree))).toMatchObject({ run: true });
    const stale = { ...ready, lastDriftCheckAt: new Date(NOW - 11 * 60_000).toISOString() };
    expect(decide(input(stale, sameTree))).toMatchObject({ run: true, trigger: "resync" });
    expect(decide(input(ready, { ...sameTree, force: true }))).toMatchObject({ run: true });
    // Without the same tree, a new revision runs; a target that does not apply never compares.
    expect(decide(input(ready, { revision: REV_B }))).toMatchObject({ run: true });
    expect(decide(input(ready, { ...sameTree, target: target({ mode: "detect" }) }))).toMatchObject({
      run: true,
    });
  });

  it("compares a detect target with the revision it last checked, not an applied one", () => {
    const checked = status({ lastAttemptedRevision: REV_A, lastDriftCheckAt: new Date(NOW).toISOString() });
    expect(decide(input(checked, { target: target({ mode: "detect" }) }))).toMatchObject({ run: false });
  });
});

describe("drift and changes from Git", () => {
  it("takes drift from what refresh reported, whatever the revisions", () => {
    expect(isDrift(plan(["u1"], ["u1"]), status(), REV_A)).toBe(true);
    // Live state that moved but still matches the program plans no step: no drift.
    expect(isDrift(plan([], ["u1"]), status({ lastAppliedRevision: REV_A }), REV_A)).toBe(false);
    expect(isDrift(plan(["u2"], ["u1"]), status(), REV_A)).toBe(false);
    expect(isDrift(plan(["u1"], []), status({ lastAppliedRevision: REV_A }), REV_A)).toBe(false);
    // An engine that does not report refresh changes: changes to the applied revision.
    expect(isDrift(plan(["u1"]), status({ lastAppliedRevision: REV_A }), REV_A)).toBe(true);
    expect(isDrift(plan(["u1"]), status(), REV_A)).toBe(false);
  });

  it("counts as drift only a step that changes a property refresh found changed", () => {
    const deployment = (
      stepPaths: string[],
      driftPaths?: string[],
      op: "update" | "replace" = "update",
    ): Plan => ({
      counts: { create: 0, update: 1, delete: 0, replace: 0, same: 0 },
      steps: [
        {
          op,
          urn: "d",
          type: "kubernetes:apps/v1:Deployment",
          diffs: stepPaths.map((path) => ({ path, kind: "update", replace: false })),
        },
      ],
      changes: true,
      drift: [
        { urn: "d", type: "kubernetes:apps/v1:Deployment", ...(driftPaths ? { paths: driftPaths } : {}) },
      ],
    });
    // A rollout moved the status; the commit relabels the object: Git, not drift.
    const relabel = deployment(
      ['metadata.labels["driftless.io/commit"]'],
      ["status.readyReplicas", "metadata.generation"],
    );
    expect(isDrift(relabel, status({ lastAppliedRevision: REV_B }), REV_A)).toBe(false);
    expect(hasGitChanges(relabel, status({ lastAppliedRevision: REV_B }), REV_A)).toBe(true);
    // A hand edit of replicas, put back: drift — also when the edit is under the step's path or above it.
    expect(
      isDrift(deployment(["spec.replicas"], ["spec.replicas", "status.replicas"]), status(), REV_A),
    ).toBe(true);
    expect(
      isDrift(deployment(["spec.template"], ["spec.template.spec.containers[0].image"]), status(), REV_A),
    ).toBe(true);
    expect(isDrift(deployment(['metadata.labels["a.b/c"]'], ["metadata.labels"]), status(), REV_A)).toBe(
      true,
    );
    expect(isDrift(deployment(["spec.replicas"], ["status.replicas"], "replace"), status(), REV_A)).toBe(
      false,
    );
    // Deleting a resource whose status moved is Git removing it, not drift.
    const removed: Plan = {
      ...relabel,
      steps: [{ op: "delete", urn: "d", type: "kubernetes:apps/v1:Deployment" }],
    };
    expect(isDrift(removed, status(), REV_A)).toBe(false);
    // Without paths on either side, a step on a drifted resource is drift (as before).
    expect(isDrift(deployment(["spec.replicas"]), status(), REV_A)).toBe(true);
    expect(isDrift(deployment([], ["status.replicas"]), status(), REV_A)).toBe(true);
  });

  it("counts a step on a masked secret of a resource refresh found changed as drift, not as config", () => {
    // A hand edit of a Secret's data: refresh sees its resourceVersion move, the data masked on both sides.
    const secretPlan = (drifted: boolean): Plan => ({
      counts: { create: 0, update: 1, delete: 0, replace: 0, same: 3 },
      steps: [
        {
          op: "update",
          urn: "s",
          type: "kubernetes:core/v1:Secret",
          diffs: [
            { path: "data.password", kind: "update", replace: false, old: "[secret]", new: "[secret]" },
          ],
        },
      ],
      changes: true,
      drift: drifted
        ? [
            {
              urn: "s",
              type: "kubernetes:core/v1:Secret",
              paths: ["metadata.resourceVersion", "metadata.managedFields[1]"],
              secretPaths: ["data"],
            },
          ]
        : [],
    });
    const applied = status({ lastAppliedRevision: REV_A });
    expect(isDrift(secretPlan(true), applied, REV_A)).toBe(true);
    expect(hasConfigChanges(secretPlan(true), applied, REV_A)).toBe(false);
    // The same step with the Secret untouched (a changed secret config value) is a config change.
    expect(isDrift(secretPlan(false), applied, REV_A)).toBe(false);
    expect(hasConfigChanges(secretPlan(false), applied, REV_A)).toBe(true);
  });

  it("counts steps on resources that did not drift as changes from Git", () => {
    expect(hasGitChanges(plan(["u1", "u2"], ["u1"]), status(), REV_A)).toBe(true);
    expect(hasGitChanges(plan(["u1"], ["u1"]), status(), REV_A)).toBe(false);
    expect(hasGitChanges(plan([], []), status(), REV_A)).toBe(false);
    expect(hasGitChanges(plan(["u1"]), status({ lastAppliedRevision: REV_B }), REV_A)).toBe(true);
  });

  it("names a change to the applied revision's resources that did not drift a config change", () => {
    const applied = status({ lastAppliedRevision: REV_A });
    expect(hasConfigChanges(plan(["u1"], []), applied, REV_A)).toBe(true);
    expect(hasGitChanges(plan(["u1"], []), applied, REV_A)).toBe(false);
    expect(isDrift(plan(["u1"], []), applied, REV_A)).toBe(false);
    expect(hasConfigChanges(plan(["u1"], ["u1"]), applied, REV_A)).toBe(false);
    expect(hasConfigChanges(plan(["u1"], []), applied, REV_B)).toBe(false);
  });
});

describe("approval policy and plan identity", () => {
  it("holds what the policy says and identifies a plan by its steps", () => {
    const destructive: Plan = { ...plan([]), counts: { ...plan([]).counts, delete: 1 }, changes: true };
    expect(needsApproval("always", plan(["u1"]))).toBe(true);
    expect(needsApproval("destructive", plan(["u1"]))).toBe(false);
    expect(needsApproval("destructive", destructive)).toBe(true);
    expect(needsApproval("never", destructive)).toBe(false);
    expect(planDigest(plan(["u1", "u2"]))).toBe(planDigest(plan(["u2", "u1"])));
    expect(planDigest(plan(["u1"]))).not.toBe(planDigest(plan(["u2"])));
  });
});
