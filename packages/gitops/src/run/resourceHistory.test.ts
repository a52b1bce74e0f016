// What a run records in its resources' history: applied steps with their
// property changes, drift it found (once, not again on every detect run),
// and nothing applied for a run that only planned.
import { describe, expect, it } from "vitest";
import type { PlannedStep } from "../engine/types.js";
import type { TargetInventory } from "../types.js";
import { resourceHistoryEntries } from "./resourceHistory.js";

const DEPLOY = "urn:pulumi:dev::site::kubernetes:apps/v1:Deployment::web";
const MAP = "urn:pulumi:dev::site::kubernetes:core/v1:ConfigMap::cfg";
const IMAGE = "spec.template.spec.containers[0].image";
const steps: PlannedStep[] = [
  {
    op: "update",
    urn: DEPLOY,
    type: "kubernetes:apps/v1:Deployment",
    diffs: [{ path: IMAGE, kind: "update", replace: false, old: "nginx:1", new: "nginx:2" }],
  },
  { op: "create", urn: MAP, type: "kubernetes:core/v1:ConfigMap" },
];
const base = { runId: "r2", revision: "b".repeat(40), at: "2025-01-02T00:00:00.000Z" };
const drift = [{ urn: DEPLOY, type: "kubernetes:apps/v1:Deployment", paths: [IMAGE] }];

describe("resourceHistoryEntries", () => {
  it("records the steps an applying run applied, with their property changes", () => {
    const entries = resourceHistoryEntries({ ...base, result: "applied", steps });
    expect(entries).toEqual([
      {
        urn: DEPLOY,
        type: "kubernetes:apps/v1:Deployment",
        ...base,
        op: "update",
        paths: [IMAGE],
        changes: steps[0]?.diffs,
      },
      { urn: MAP, type: "kubernetes:core/v1:ConfigMap", ...base, op: "create", paths: [] },
    ]);
  });

  it("records drift first, then its correction; a run that only planned records no step", () => {
    const corrected = resourceHistoryEntries({ ...base, result: "drift-corrected", steps, drift });
    expect(corrected.map((e) => `${e.op} ${e.urn.split("::").at(-1)}`)).toEqual([
      "drift web",
      "update web",
      "create cfg",
    ]);
    expect(corrected[0]?.paths).toEqual([IMAGE]);
    const detected = resourceHistoryEntries({ ...base, result: "drift-detected", steps, drift });
    expect(detected.map((e) => e.op)).toEqual(["drift"]);
    expect(resourceHistoryEntries({ ...base, result: "planned", steps })).toEqual([]);
  });

  it("does not record again drift the inventory showed with the same paths", () => {
    const previous: TargetInventory = {
      target: "site",
      runId: "r1",
      at: "2025-01-01T00:00:00.000Z",
      resources: [
        {
          urn: DEPLOY,
          type: "kubernetes:apps/v1:Deployment",
          name: "web",
          protect: false,
          custom: true,
          sync: "drifted",
          driftPaths: [IMAGE],
          health: { status: "Healthy", reason: "" },
        },
      ],
    };
    expect(resourceHistoryEntries({ ...base, result: "drift-detected", drift, previous })).toEqual([]);
    const moved = [{ ...drift[0]!, paths: [IMAGE, "spec.replicas"] }];
    expect(
      resourceHistoryEntries({ ...base, result: "drift-detected", drift: moved, previous }).map(
        (e) => e.paths,
      ),
    ).toEqual([[IMAGE, "spec.replicas"]]);
  });
});
