import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunRecord, SqliteStore, type TargetStatus } from "./store.js";

const status = (name: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name,
  conditions: [
    { type: "Ready", status: true, reason: "Applied", message: "ok", since: "2025-01-01T00:00:00.000Z" },
  ],
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...extra,
});

const run = (id: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  id,
  target: "site",
  trigger: "manual",
  startedAt,
  drift: false,
  log: "",
  ...extra,
});

describe("SqliteStore", () => {
  let dir: string;
  let path: string;
  const opened: SqliteStore[] = [];
  const open = () => {
    const store = new SqliteStore(path);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-store-"));
    path = join(dir, "nested", "driftless.db");
  });
  afterEach(() => {
    for (const store of opened.splice(0)) store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates its directory and migrates to the latest schema", () => {
    const store = open();
    expect(existsSync(path)).toBe(true);
    expect(store.schemaVersion).toBe(2);
    expect(store.isOpen).toBe(true);
    const db = new Database(path, { readonly: true });
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    expect(tables).toEqual(["runs", "targets"]);
  });

  it("keeps its data and schema version when reopened, without migrating again", () => {
    const first = open();
    first.putStatus(status("site", { lastAppliedRevision: "a".repeat(40) }));
    first.startRun(run("r1", "2025-01-01T00:00:00.000Z"));
    first.close();
    expect(first.isOpen).toBe(false);
    first.close(); // closing twice is harmless

    const second = open();
    expect(second.schemaVersion).toBe(2);
    expect(second.getStatus("site")?.lastAppliedRevision).toBe("a".repeat(40));
    expect(second.getRun("r1")?.id).toBe("r1");
  });

  it("puts, replaces, lists and deletes statuses", () => {
    const store = open();
    expect(store.getStatus("site")).toBeUndefined();
    store.putStatus(status("web"));
    store.putStatus(status("site", { stalledRevision: "b".repeat(40) }));
    store.putStatus(status("site", { lastAppliedRevision: "c".repeat(40), outputs: { url: "https://x" } }));
    const site = store.getStatus("site");
    expect(site).toEqual(
      status("site", { lastAppliedRevision: "c".repeat(40), outputs: { url: "https://x" } }),
    );
    expect(site?.stalledRevision).toBeUndefined();
    expect(store.listStatuses().map((s) => s.name)).toEqual(["site", "web"]);
    store.deleteTarget("site");
    expect(store.getStatus("site")).toBeUndefined();
    expect(store.listStatuses().map((s) => s.name)).toEqual(["web"]);
  });

  it("records a run from start to finish", () => {
    const store = open();
    store.startRun(run("r1", "2025-01-01T00:00:00.000Z", { trigger: "webhook", revision: "d".repeat(40) }));
    expect(store.getRun("r1")).toEqual({
      id: "r1",
      target: "site",
      trigger: "webhook",
      revision: "d".repeat(40),
      startedAt: "2025-01-01T00:00:00.000Z",
      drift: false,
      log: "",
    });
    const counts = { create: 1, update: 2, delete: 0, replace: 0, same: 3 };
    store.finishRun(
      run("r1", "2025-01-01T00:00:00.000Z", {
        trigger: "webhook",
        revision: "e".repeat(40),
        finishedAt: "2025-01-01T00:01:00.000Z",
        result: "drift-corrected",
        counts,
        drift: true,
        error: "boom",
        log: "line 1\nline 2",
      }),
    );
    expect(store.getRun("r1")).toEqual({
      id: "r1",
      target: "site",
      trigger: "webhook",
      revision: "e".repeat(40),
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:01:00.000Z",
      result: "drift-corrected",
      counts,
      drift: true,
      error: "boom",
      log: "line 1\nline 2",
    });
    expect(store.getRun("nope")).toBeUndefined();
  });

  it("stamps the finish time when the run does not carry one", () => {
    const store = open();
    store.startRun(run("r1", "2025-01-01T00:00:00.000Z"));
    const before = Date.now();
    store.finishRun(run("r1", "2025-01-01T00:00:00.000Z", { result: "unchanged" }));
    const finishedAt = Date.parse(store.getRun("r1")?.finishedAt as string);
    expect(finishedAt).toBeGreaterThanOrEqual(before - 1000);
  });

  it("lists a target's runs newest first, up to the limit", () => {
    const store = open();
    store.startRun(run("old", "2025-01-01T00:00:00.000Z"));
    store.startRun(run("new", "2025-01-03T00:00:00.000Z"));
    store.startRun(run("mid", "2025-01-02T00:00:00.000Z"));
    // Same start time: the one recorded later comes first.
    store.startRun(run("new-2", "2025-01-03T00:00:00.000Z"));
    store.startRun(run("other", "2025-01-04T00:00:00.000Z", { target: "web" }));
    expect(store.listRuns("site").map((r) => r.id)).toEqual(["new-2", "new", "mid", "old"]);
    expect(store.listRuns("site", 2).map((r) => r.id)).toEqual(["new-2", "new"]);
    expect(store.listRuns("web").map((r) => r.id)).toEqual(["other"]);
    expect(store.listRuns("none")).toEqual([]);
  });

  it("marks runs a crashed process left unfinished as interrupted, once", () => {
    const crashed = open();
    crashed.startRun(run("done", "2025-01-01T00:00:00.000Z"));
    crashed.finishRun(run("done", "2025-01-01T00:00:00.000Z", { result: "applied" }));
    crashed.startRun(run("in-flight", "2025-01-02T00:00:00.000Z", { revision: "f".repeat(40) }));
    crashed.close(); // the process dies: no finishRun

    const restarted = open();
    const interrupted = restarted.markInterrupted();
    expect(interrupted).toHaveLength(1);
    expect(interrupted[0]).toMatchObject({
      id: "in-flight",
      target: "site",
      result: "interrupted",
      revision: "f".repeat(40),
    });
    expect(restarted.getRun("in-flight")).toMatchObject({
      result: "interrupted",
      error: expect.stringMatching(/process stopped during this run/),
      finishedAt: expect.any(String),
    });
    expect(restarted.getRun("done")?.result).toBe("applied");
    expect(restarted.markInterrupted()).toEqual([]);
  });

  it("migrates a version 1 database, keeping its runs, and records overrides and plans", () => {
    const first = open();
    first.startRun(run("old", "2025-01-01T00:00:00.000Z"));
    first.close();
    // Back to the version 1 schema, as an older release left it.
    const db = new Database(path);
    db.exec("ALTER TABLE runs DROP COLUMN override; ALTER TABLE runs DROP COLUMN plan;");
    db.pragma("user_version = 1");
    db.close();

    const store = open();
    expect(store.schemaVersion).toBe(2);
    expect(store.getRun("old")).toMatchObject({ id: "old" });
    expect(store.getRun("old")).not.toHaveProperty("override");
    const override = { by: "alice", reason: "hotfix" };
    store.startRun(run("new", "2025-01-02T00:00:00.000Z", { override }));
    const plan = [{ op: "update" as const, urn: "urn:x", type: "x:y:Z" }];
    store.finishRun(run("new", "2025-01-02T00:00:00.000Z", { override, result: "awaiting-approval", plan }));
    expect(store.getRun("new")).toMatchObject({ override, plan, result: "awaiting-approval" });
  });

  it("works in memory", () => {
    const store = new SqliteStore(":memory:");
    opened.push(store);
    store.putStatus(status("site"));
    expect(store.getStatus("site")?.name).toBe("site");
    expect(store.schemaVersion).toBe(2);
  });
});
