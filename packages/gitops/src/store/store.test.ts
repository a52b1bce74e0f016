import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "./sqlite/schema.js";
import { SqliteStore } from "./sqlite/store.js";
import type { RunRecord, TargetStatus } from "./store.js";

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

// SQLite specifics: files, migrations, memory. What every store must do is in store.contract.test.ts.
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
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.isOpen).toBe(true);
    const db = new Database(path, { readonly: true });
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    expect(tables).toEqual([
      "audit",
      "inventories",
      "members",
      "personal_tokens",
      "promotions",
      "resource_history",
      "review_stacks",
      "run_logs",
      "runs",
      "session_revocations",
      "stack_locks",
      "target_leases",
      "targets",
      "triggers",
    ]);
  });
  it("keeps its data and schema version when reopened, without migrating again", async () => {
    const first = open();
    await first.putStatus(status("site", { lastAppliedRevision: "a".repeat(40) }));
    await first.startRun(run("r1", "2025-01-01T00:00:00.000Z"));
    first.close();
    expect(first.isOpen).toBe(false);
    first.close(); // closing twice is harmless

    const second = open();
    expect(second.schemaVersion).toBe(MIGRATIONS.length);
    expect((await second.getStatus("site"))?.lastAppliedRevision).toBe("a".repeat(40));
    expect((await second.getRun("r1"))?.id).toBe("r1");
  });
  it("migrates a version 1 database, keeping its runs, and records overrides and plans", async () => {
    const first = open();
    await first.startRun(run("old", "2025-01-01T00:00:00.000Z"));
    first.close();
    // Back to the version 1 schema, as an older release left it.
    const db = new Database(path);
    db.exec(
      `DROP TABLE promotions; DROP TABLE stack_locks; ALTER TABLE runs DROP COLUMN owner;
       ALTER TABLE runs DROP COLUMN override; ALTER TABLE runs DROP COLUMN plan;
       ALTER TABLE runs DROP COLUMN approval; DROP TABLE run_logs;
       DROP TABLE members; DROP TABLE target_leases; DROP TABLE triggers;
       DROP TABLE session_revocations; DROP TABLE inventories; DROP TABLE resource_history; DROP TABLE audit; DROP TABLE personal_tokens;
       DROP TABLE review_stacks;`,
    );
    db.pragma("user_version = 1");
    db.close();

    const store = open();
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(await store.getRun("old")).toMatchObject({ id: "old" });
    expect(await store.getRun("old")).not.toHaveProperty("override");
    const override = { by: "alice", reason: "hotfix" };
    await store.startRun(run("new", "2025-01-02T00:00:00.000Z", { override }));
    const plan = [{ op: "update" as const, urn: "urn:x", type: "x:y:Z" }];
    await store.finishRun(
      run("new", "2025-01-02T00:00:00.000Z", { override, result: "awaiting-approval", plan }),
    );
    expect(await store.getRun("new")).toMatchObject({ override, plan, result: "awaiting-approval" });
  });
  it("works in memory", async () => {
    const store = new SqliteStore(":memory:");
    opened.push(store);
    await store.putStatus(status("site"));
    expect((await store.getStatus("site"))?.name).toBe("site");
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
  });
});
