// The PostgreSQL store on a real server: migrations raced by three processes,
// a target's Pulumi state in the same database through the real engine, the
// password kept out of everything written, and an outage survived in place.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  PostgresStore,
  PulumiEngine,
  Reconciler,
  StoreUnavailableError,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as LocalFileModule from "./fixtures/localFile.cjs";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { type PostgresCluster, startPostgres } from "./support/postgres.js";
import { until } from "./support/wait.js";

const { LocalFile } = createRequire(import.meta.url)("./fixtures/localFile.cjs") as typeof LocalFileModule;

/**
 * Opens a PostgresStore in a new process at `startAt` (epoch ms) and runs
 * `transactions` transactions in it; resolves with the schema version it saw
 * and what it wrote to stderr (its worker thread's warnings included).
 */
function openInChild(
  url: string,
  startAt: number,
  transactions = 0,
): Promise<{ version: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "support", "postgresChild.mjs"), String(startAt), String(transactions)],
    {
      cwd: import.meta.dirname,
      env: { ...process.env, STORE_URL: url },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 && out.trim().endsWith("closed")
        ? resolve({ version: out.trim().split("\n")[0] as string, stderr: err })
        : reject(new Error(`child exited ${code} after ${JSON.stringify(out)}: ${err}`)),
    );
  });
}

describe("PostgresStore on a real server", () => {
  let cluster: PostgresCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;

  beforeAll(async () => {
    cluster = await startPostgres();
    sandbox = engineSandbox();
    repo = createRepo(join(sandbox.dir, "repo"));
    repo.commit({ "README.md": "infrastructure kept in PostgreSQL\n" }, "init");
  });
  afterAll(async () => {
    await cluster?.dispose();
    sandbox?.dispose();
  });

  it("migrates an empty database once when three processes open it at once", async () => {
    const url = await cluster.createDatabase("race");
    const startAt = Date.now() + 1500;
    const versions = (await Promise.all([1, 2, 3].map(() => openInChild(url, startAt)))).map(
      (c) => c.version,
    );
    // All three saw the same, latest schema, each migration recorded once.
    const latest = await cluster.psql("SELECT max(version) FROM driftless_schema", "race");
    expect(versions).toEqual([latest, latest, latest]);
    expect(await cluster.psql("SELECT count(*) FROM driftless_schema", "race")).toBe(latest);
    expect(
      await cluster.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'driftless_%'",
        "race",
      ),
    ).toBe(
      "driftless_audit,driftless_inventories,driftless_members,driftless_personal_tokens,driftless_promotions,driftless_resource_history,driftless_review_stacks,driftless_run_logs,driftless_runs,driftless_schema,driftless_session_revocations,driftless_stack_locks,driftless_target_leases,driftless_targets,driftless_triggers",
    );
  });

  it("keeps a target's Pulumi state in the store's database and never writes the password", async () => {
    await cluster.createDatabase("shared");
    process.env.DRIFTLESS_TEST_PG_PASSWORD = cluster.password;
    const lines: string[] = [];
    const logger = pino({ level: "debug", base: undefined }, { write: (line: string) => lines.push(line) });
    const target: TargetSpec = {
      name: "site",
      repo: repo.fileUrl,
      stack: "dev",
      passphrase: "test-passphrase",
      env: sandbox.env,
      program: async () => {
        const file = new LocalFile("site", {
          path: join(sandbox.dir, "out", "site.txt"),
          content: "in postgres",
        });
        return { path: file.path };
      },
    };
    const engine = new PulumiEngine();
    const reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      targets: [target],
      logger,
      engine,
      store: { url: cluster.url("shared", false), password: { env: "DRIFTLESS_TEST_PG_PASSWORD" } },
    });
    try {
      const backend = reconciler.target("site")?.backend;
      expect(backend).toBe(cluster.url("shared", false));
      const run = await reconciler.reconcile("site");
      expect(run.error).toBeUndefined();
      expect(run.result).toBe("applied");
      expect(readFileSync(join(sandbox.dir, "out", "site.txt"), "utf8")).toBe("in postgres");
      // The engine wrote the stack into the same database, table pulumi_state.
      const keys = await cluster.psql(
        "SELECT string_agg(key, ' ') FROM pulumi_state WHERE key LIKE '%/stacks/%dev.json'",
        "shared",
      );
      expect(keys).toMatch(/\.pulumi\/stacks\/site\/dev\.json/);
      expect(
        await cluster.psql("SELECT status->>'lastAppliedRevision' FROM driftless_targets", "shared"),
      ).toBe(repo.head());
      // A second replica's view: a new store on the same database reads the same status and run.
      const other = await PostgresStore.open(cluster.url("shared"));
      expect((await other.getStatus("site"))?.lastAppliedRevision).toBe(repo.head());
      expect((await other.getRun(run.id))?.result).toBe("applied");
      // The inventory: read from the DIY backend through `stack export`, stored beside the status.
      const inventory = await other.getInventory("site");
      expect(inventory).toMatchObject({ target: "site", runId: run.id });
      expect(inventory?.resources.find((r) => r.name === "site" && r.custom)).toMatchObject({
        sync: "synced",
        lastChange: { runId: run.id, op: "create" },
      });
      await other.close();
      // Read again on demand, from the backend's row: no CLI process (a `stack export` would count).
      const invocations = engine.invocations;
      const fresh = await reconciler.readInventory("site");
      expect(engine.invocations).toBe(invocations);
      expect(fresh?.runId).toBe(run.id);
      expect(fresh?.resources.map((r) => r.urn)).toEqual(inventory?.resources.map((r) => r.urn));

      const written = [
        lines.join("\n"),
        JSON.stringify(await reconciler.statuses()),
        JSON.stringify(await reconciler.history("site")),
        JSON.stringify(await reconciler.resources("site")),
        JSON.stringify(reconciler.targets()),
      ].join("\n");
      expect(lines.length).toBeGreaterThan(0);
      expect(written).not.toContain(cluster.password);
    } finally {
      await reconciler.stop({ graceMs: 1000 });
      delete process.env.DRIFTLESS_TEST_PG_PASSWORD;
    }
  });

  it("refuses a wrong password without echoing either password", async () => {
    const wrong = "not-the-password-1234";
    let caught: unknown;
    try {
      await (await PostgresStore.open({ url: cluster.url("postgres", false), password: wrong })).close();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(String((caught as Error).message)).toMatch(/password authentication failed/);
    expect(String((caught as Error).message)).not.toContain(wrong);
    expect(String((caught as Error).message)).not.toContain(cluster.password);
  });

  it("adds no listener to a pooled connection per transaction, however many run", async () => {
    const url = await cluster.createDatabase("listeners");
    // One connection serves them all in turn; a listener added at each checkout went past Node's limit of 10.
    const { stderr } = await openInChild(url, Date.now(), 40);
    expect(stderr).not.toMatch(/MaxListenersExceeded|memory leak/);
  });

  it("fails calls while the server is down, and answers again on the same store when it is back", async () => {
    const url = await cluster.createDatabase("outage");
    const store = await PostgresStore.open(url);
    try {
      await store.putStatus({ name: "site", conditions: [], updatedAt: "2025-01-01T00:00:00.000Z" });
      expect(await store.ping()).toBe(true);
      await cluster.stop();
      await expect(store.getStatus("site")).rejects.toThrow(StoreUnavailableError);
      // The outage is known now: calls fail at once instead of each waiting out its deadline.
      const started = performance.now();
      await expect(store.getStatus("site")).rejects.toThrow(/PostgreSQL is unavailable \(since /);
      expect(await store.ping()).toBe(false);
      expect(performance.now() - started).toBeLessThan(100);
      await cluster.start();
      // The breaker's background probe finds the server back; nobody has to call first.
      await until(() => store.ping(), "the store to answer again", 15_000);
      expect((await store.getStatus("site"))?.name).toBe("site");
    } finally {
      await store.close();
    }
  });

  it("lets a replica stopped in the middle of a transaction hold up no other replica's heartbeat or takeover", async () => {
    const url = await cluster.createDatabase("stopped");
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "support", "postgresChild.mjs"), "0", "forever"],
      {
        cwd: import.meta.dirname,
        env: { ...process.env, STORE_URL: url },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const store = await PostgresStore.open(url);
    try {
      await until(() => out.includes("holding"), "the child to hold target t");
      // Stopped as a partition or a SIGSTOP would: caught between two statements of a heartbeat,
      // after it renewed its lease, so it holds the row locks of its membership and its lease.
      const idleInTransaction = () =>
        cluster.psql(
          "SELECT query FROM pg_stat_activity WHERE datname = 'stopped' AND state = 'idle in transaction'",
        );
      await until(async () => {
        child.kill("SIGSTOP");
        if (/driftless_target_leases|SELECT \* FROM driftless_members/.test(await idleInTransaction()))
          return true;
        child.kill("SIGCONT");
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        return false;
      }, "the child to stop in the middle of a transaction");
      const member = {
        id: "other",
        host: "localhost",
        pid: process.pid,
        startedAt: new Date().toISOString(),
      };
      // The stopped member's row lapses while locked: the heartbeat skips it instead of waiting
      // out the statement timeout (10 s), well within its own lease.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const started = performance.now();
      const beat = await store.heartbeat(member, 5000);
      expect(performance.now() - started).toBeLessThan(2500);
      expect(beat.members.map((m) => m.id)).toContain("other");
      // The lapsed lease is taken once the server has ended the idle transaction and freed its lock.
      const taken = await until(
        async () => {
          const acquired = await store.acquireTarget("t", "other", 5000);
          return acquired.taken && acquired;
        },
        "the other member to take target t",
        15_000,
      );
      expect(taken.tookOverFrom).toBe("stopped");
      expect(await idleInTransaction()).toBe("");
    } finally {
      child.kill("SIGKILL");
      await store.close();
    }
  });

  it("pauses runs while the database is down and runs again by itself when it is back", async () => {
    await cluster.createDatabase("paused");
    const reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data-paused"),
      targets: [
        {
          name: "web",
          repo: repo.fileUrl,
          stack: "dev",
          passphrase: "test-passphrase",
          env: sandbox.env,
          program: async () => {
            const file = new LocalFile("web", { path: join(sandbox.dir, "out", "web.txt"), content: "v1" });
            return { path: file.path };
          },
        },
      ],
      logger: pino({ level: "silent" }),
      store: cluster.url("paused"),
      retryBaseMs: 200,
      retryMaxMs: 1000,
    });
    try {
      expect((await reconciler.reconcile("web")).result).toBe("applied");
      reconciler.start();
      await until(() => reconciler.isReady(), "the reconciler to be ready");
      await cluster.stop();
      expect(await reconciler.isReady()).toBe(false);
      const during = await reconciler.reconcile("web");
      expect(during.result).toBe("failed");
      expect(during.error).toMatch(/PostgreSQL is unavailable/);
      await cluster.start();
      await until(() => reconciler.isReady(), "the reconciler to be ready again");
      // The failed run was not recorded; its retry runs on its own once the database is back.
      const retried = await until(
        async () => (await reconciler.history("web")).find((r) => r.trigger === "retry" && r.finishedAt),
        "the retry of the run the outage failed",
      );
      expect(retried.error).toBeUndefined();
      expect(retried.result).toBe("unchanged");
      expect((await reconciler.history("web")).map((r) => r.id)).not.toContain(during.id);
    } finally {
      await reconciler.stop({ graceMs: 1000 });
    }
  });
});
