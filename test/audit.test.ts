// The audit log's tamper evidence, end to end: entries appended through the
// stores, rows then edited or deleted straight in SQLite and in a real
// PostgreSQL, and the real `driftless audit verify` naming the first bad entry.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { type AuditEntry, type AuditRecord, PostgresStore, SqliteStore, type Store } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function finished(child: ChildProcess): Promise<Result> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

const start = (config: string, ...args: string[]) =>
  spawn(process.execPath, [CLI, "audit", ...args, "-c", config], { stdio: ["ignore", "pipe", "pipe"] });
const driftless = (config: string, ...args: string[]) => finished(start(config, ...args));

const record = (n: number): AuditRecord => ({
  actorId: "token:ci-deployer",
  actor: "ci-deployer",
  source: "10.0.0.7",
  action: n % 2 ? "approve" : "reconcile",
  target: "prod-site",
  outcome: "ok",
  status: 202,
  requestId: `req-${n}`,
  detail: `run ${n}`,
});

/** One backend: a fresh, empty log per scenario, how to open it, and SQL straight on its table. */
interface Backend {
  readonly name: string;
  /** A config file pointing at a new, empty store. */
  fresh(): Promise<{ config: string; open: () => Promise<Store>; sql: (statement: string) => Promise<void> }>;
}

describe("driftless audit verify on a tampered log", () => {
  const dir = mkdtempSync(join(tmpdir(), "driftless-audit-"));
  let cluster: PostgresCluster | undefined;
  let databases = 0;

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await cluster?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const sqlite: Backend = {
    name: "SQLite",
    async fresh() {
      const data = mkdtempSync(join(dir, "sqlite-"));
      const config = join(data, "driftless.yaml");
      writeFileSync(config, "dataDir: ./data\ntargets: []\n");
      const file = join(data, "data", "driftless.db");
      return {
        config,
        open: async () => new SqliteStore(file),
        sql: async (statement) => {
          const db = new DatabaseSync(file);
          db.exec(statement);
          db.close();
        },
      };
    },
  };
  const postgres: Backend = {
    name: "PostgreSQL",
    async fresh() {
      if (!cluster) throw new Error("the PostgreSQL server did not start");
      const name = `audit_${++databases}`;
      const url = await cluster.createDatabase(name);
      const data = mkdtempSync(join(dir, "pg-"));
      const config = join(data, "driftless.yaml");
      writeFileSync(config, `dataDir: ./data\nstore: "${url}"\ntargets: []\n`);
      return {
        config,
        open: () => PostgresStore.open(url),
        sql: async (statement) => {
          await cluster?.psql(statement.replaceAll(/\baudit\b/g, "driftless_audit"), name);
        },
      };
    },
  };

  /** A log of `n` entries appended through the store, and the entries as appended. */
  async function logOf(backend: Backend, n = 5) {
    const env = await backend.fresh();
    const store = await env.open();
    const entries: AuditEntry[] = [];
    try {
      for (let i = 1; i <= n; i++) entries.push(await store.appendAudit(record(i)));
    } finally {
      await store.close();
    }
    return { ...env, entries };
  }

  describe.each([sqlite, postgres])("$name", (backend) => {
    it("verifies an untouched log, and names an edited entry by id and time", async () => {
      const { config, sql, entries } = await logOf(backend);
      const clean = await driftless(config, "verify");
      expect(clean.code).toBe(0);
      expect(clean.stderr).toContain(`audit log verified: 5 entries, head ${entries[4]?.hash}`);

      await sql("UPDATE audit SET actor = 'someone-else' WHERE id = 3");
      const edited = await driftless(config, "verify");
      expect(edited.code).toBe(1);
      expect(edited.stderr).toBe(
        `audit log broken at entry 3 (${entries[2]?.time}): edited: entry 3 was edited or moved: its hash does not match its content and position\n`,
      );
      // Put back as it was, it verifies again: the chain judges content, not the act of writing.
      await sql("UPDATE audit SET actor = 'ci-deployer' WHERE id = 3");
      expect((await driftless(config, "verify")).code).toBe(0);
    }, 60_000);

    it("names the entry after a deleted one", async () => {
      const { config, sql, entries } = await logOf(backend);
      await sql("DELETE FROM audit WHERE id = 2");
      const deleted = await driftless(config, "verify", "--json");
      expect(deleted.code).toBe(1);
      expect(deleted.stderr).toContain(`audit log broken at entry 3 (${entries[2]?.time}): deleted`);
      expect(JSON.parse(deleted.stdout)).toMatchObject({
        ok: false,
        entries: 1,
        broken: { id: 3, problem: "deleted" },
      });
    }, 60_000);

    it("tells a removed tail only against a head kept elsewhere", async () => {
      const { config, sql, entries } = await logOf(backend);
      const head = await driftless(config, "head");
      expect(head.code).toBe(0);
      expect(head.stdout).toBe(`${entries[4]?.hash}\n`);
      await sql("DELETE FROM audit WHERE id >= 4");
      // The limit the README states: without the head, a shorter chain is a valid chain.
      expect((await driftless(config, "verify")).code).toBe(0);
      const truncated = await driftless(config, "verify", "--head", head.stdout.trim());
      expect(truncated.code).toBe(1);
      expect(truncated.stderr).toContain(`audit log broken at entry 3 (${entries[2]?.time}): truncated`);
    }, 60_000);
  });

  it("lists entries by filter, and --follow prints new ones until interrupted", async () => {
    const { config, open } = await logOf(sqlite, 3);
    const listed = await driftless(
      config,
      "--target",
      "prod-site",
      "--actor",
      "ci-deployer",
      "-n",
      "2",
      "--json",
    );
    expect(listed.code).toBe(0);
    expect(
      listed.stdout
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as AuditEntry).id),
    ).toEqual([2, 3]);

    const follower = start(config, "--follow", "--target", "prod-site");
    const done = finished(follower);
    let seen = "";
    const printed = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const check = (d: Buffer) => {
          seen += d.toString();
          if (pattern.test(seen)) {
            follower.stdout?.off("data", check);
            resolve();
          }
        };
        follower.stdout?.on("data", check);
      });
    await printed(/req-3|run 3/);
    const store = await open();
    try {
      await store.appendAudit({ ...record(4), target: "other" });
      await store.appendAudit({ ...record(5), detail: "the one to follow" });
    } finally {
      await store.close();
    }
    await printed(/the one to follow/);
    follower.kill("SIGTERM");
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("other");
    expect(result.stdout.match(/^\d+ /gm)).toEqual(["1 ", "2 ", "3 ", "5 "]);
  }, 60_000);
});
