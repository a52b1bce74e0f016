// The resource-history part of the store contract (called from
// `store.contract.test.ts` for every store): entries per resource, newest
// first, bounded, shared by every process, refused under a stale lease.
import { expect, it } from "vitest";
import { FencedError } from "../errors.js";
import type { ResourceHistoryEntry } from "../types.js";
import { RESOURCE_HISTORY_LIMIT, type Store } from "./store.js";

const URN = "urn:pulumi:dev::site::kubernetes:apps/v1:Deployment::web";
const OTHER = "urn:pulumi:dev::site::kubernetes:core/v1:Service::web";

const entry = (runId: string, extra: Partial<ResourceHistoryEntry> = {}): ResourceHistoryEntry => ({
  urn: URN,
  type: "kubernetes:apps/v1:Deployment",
  runId,
  revision: "a".repeat(40),
  at: "2025-01-01T00:00:00.000Z",
  op: "update",
  paths: ["spec.replicas"],
  ...extra,
});

const update = (runId: string) =>
  entry(runId, { changes: [{ path: "spec.replicas", kind: "update", replace: false, old: 1, new: 2 }] });

/** Registers the resource-history tests; `open` connects to the test's database. */
export function resourceHistoryContract(open: () => Promise<Store>): void {
  it("records what runs did to each resource and lists it newest first", async () => {
    const store = await open();
    const other = await open();
    expect(await store.resourceHistory("site", URN)).toEqual([]);
    await store.recordResourceChanges("site", [
      entry("r1", { op: "create", paths: [] }),
      entry("r1", { urn: OTHER, type: "kubernetes:core/v1:Service", op: "create", paths: [] }),
    ]);
    await other.recordResourceChanges("site", [
      entry("r2", { op: "drift", paths: ["spec.template.spec.containers[0].image"] }),
      update("r2"),
    ]);
    await store.recordResourceChanges("site", []);
    const history = await store.resourceHistory("site", URN);
    expect(history.map((e) => [e.runId, e.op])).toEqual([
      ["r2", "update"],
      ["r2", "drift"],
      ["r1", "create"],
    ]);
    expect(history[0]).toEqual(update("r2"));
    expect(history[1]?.paths).toEqual(["spec.template.spec.containers[0].image"]);
    expect((await other.resourceHistory("site", OTHER)).map((e) => e.runId)).toEqual(["r1"]);
    expect(await store.resourceHistory("web", URN)).toEqual([]);
    expect((await store.resourceHistory("site", URN, 1)).map((e) => e.op)).toEqual(["update"]);
  });

  it(`keeps the last ${RESOURCE_HISTORY_LIMIT} entries of a resource`, async () => {
    const store = await open();
    const runs = Array.from({ length: RESOURCE_HISTORY_LIMIT + 5 }, (_, i) => `r${i}`);
    await store.recordResourceChanges("site", [entry("o1", { urn: OTHER })]);
    await store.recordResourceChanges(
      "site",
      runs.slice(0, 10).map((id) => entry(id)),
    );
    for (const id of runs.slice(10)) await store.recordResourceChanges("site", [entry(id)]);
    const history = await store.resourceHistory("site", URN, 1000);
    expect(history).toHaveLength(RESOURCE_HISTORY_LIMIT);
    expect(history[0]?.runId).toBe(runs.at(-1));
    expect(history.at(-1)?.runId).toBe(`r${runs.length - RESOURCE_HISTORY_LIMIT}`);
    expect((await store.resourceHistory("site", OTHER)).map((e) => e.runId)).toEqual(["o1"]);
  });

  it("refuses resource changes written under a stale lease", async () => {
    const store = await open();
    const first = await store.acquireTarget("site", "a", 60_000);
    if (!first.taken) throw new Error("the free lease was not taken");
    await store.recordResourceChanges("site", [entry("r1")], { owner: "a", epoch: first.lease.epoch });
    await store.releaseTarget("site", { owner: "a", epoch: first.lease.epoch });
    expect((await store.acquireTarget("site", "b", 60_000)).taken).toBe(true);
    await expect(
      store.recordResourceChanges("site", [entry("r2")], { owner: "a", epoch: first.lease.epoch }),
    ).rejects.toBeInstanceOf(FencedError);
    expect((await store.resourceHistory("site", URN)).map((e) => e.runId)).toEqual(["r1"]);
  });
}
