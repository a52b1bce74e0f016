// The stores every contract suite runs against: SQLite on a temp file, and
// PostgreSQL on a real throwaway server. Each `setup` gives an empty shared
// database; `open` connects to it as one more process would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { type PostgresCluster, startPostgres } from "../../../../test/support/postgres.js";
import { PostgresStore } from "./postgres/store.js";
import { SqliteStore } from "./sqlite/store.js";
import type { Store } from "./store.js";

/** Creates an empty shared database per test; `open` connects to it as one more process would. */
export interface StoreFactory {
  /** Once per suite (a database server, say). */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  setup(): Promise<StoreEnv> | StoreEnv;
}

/** One empty database, and how to connect to it. */
export interface StoreEnv {
  open: () => Store | Promise<Store>;
  dispose: () => void | Promise<void>;
}

/** SQLite: a file in a new temp directory. */
export const sqliteFactory: StoreFactory = {
  setup() {
    const dir = mkdtempSync(join(tmpdir(), "driftless-store-"));
    return {
      open: () => new SqliteStore(join(dir, "driftless.db")),
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/** PostgreSQL: a new database on a throwaway server started once per suite. */
export function postgresFactory(): StoreFactory {
  let cluster: PostgresCluster | undefined;
  return {
    async start() {
      cluster = await startPostgres();
    },
    async stop() {
      await cluster?.dispose();
    },
    async setup() {
      if (!cluster) throw new Error("the PostgreSQL server did not start");
      const url = await cluster.createDatabase();
      return { open: () => PostgresStore.open(url), dispose: () => undefined };
    },
  };
}

/**
 * Registers a suite's hooks for `factory`: the server once per suite, an empty
 * database per test, and every store the test opened closed after it. Returns
 * `open`, a new connection to the test's database, as another process would
 * open it.
 */
export function useStores(factory: StoreFactory): () => Promise<Store> {
  let env: StoreEnv | undefined;
  const opened: Store[] = [];
  // A database server may start slowly on a loaded machine.
  if (factory.start) beforeAll(() => factory.start?.(), 120_000);
  if (factory.stop) afterAll(() => factory.stop?.(), 60_000);
  beforeEach(async () => {
    env = await factory.setup();
  }, 60_000);
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await env?.dispose();
    env = undefined;
  });
  return async () => {
    if (!env) throw new Error("open() is for inside a test: the database is set up per test");
    const store = await env.open();
    opened.push(store);
    return store;
  };
}
