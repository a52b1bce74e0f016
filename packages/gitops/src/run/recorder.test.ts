import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ReconcilerEvents, TypedEmitter } from "../events.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { TargetStatus } from "../types.js";
import { Recorder } from "./recorder.js";

const status = (name: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name,
  conditions: [
    { type: "Ready", status: true, reason: "Applied", message: "ok", since: "2025-01-01T00:00:00.000Z" },
  ],
  lastAppliedRevision: "a".repeat(40),
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...extra,
});

// The status view: what refresh and ensureStatus keep and what they spare the store.
describe("Recorder's status view", () => {
  let dir: string;
  let store: SqliteStore;
  let recorder: Recorder;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-recorder-"));
    store = new SqliteStore(join(dir, "driftless.db"));
    recorder = new Recorder(store, new TypedEmitter<ReconcilerEvents>(), { now: () => Date.now() });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the object of a status a refresh reads unchanged, and takes a changed one", async () => {
    await store.putStatus(status("a"));
    await store.putStatus(status("b"));
    await recorder.refresh();
    const [a, b] = [recorder.status("a"), recorder.status("b")];

    await store.putStatus(status("b", { lastAppliedRevision: "b".repeat(40) }));
    await recorder.refresh();
    // Another process's status read at each heartbeat is not a new copy when nothing changed.
    expect(recorder.status("a")).toBe(a);
    expect(recorder.status("b")).not.toBe(b);
    expect(recorder.status("b").lastAppliedRevision).toBe("b".repeat(40));

    await recorder.refresh(["a"]);
    expect(recorder.status("a")).toBe(a);
  });

  it("stores the status of a target it has never seen, and asks the store nothing for one it holds", async () => {
    await store.putStatus(status("known"));
    await recorder.refresh();
    const insert = vi.spyOn(store, "insertStatus");
    const get = vi.spyOn(store, "getStatus");

    await recorder.ensureStatus("known");
    expect(insert).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(recorder.status("known").lastAppliedRevision).toBe("a".repeat(40));

    await recorder.ensureStatus("new");
    expect(insert).toHaveBeenCalledTimes(1);
    expect((await store.getStatus("new"))?.name).toBe("new");
    expect(recorder.status("new").name).toBe("new");
  });
});
