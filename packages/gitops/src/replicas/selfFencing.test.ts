// A replica whose heartbeats stop getting through (the database or the
// network to it is away) fences itself: it cancels its engine run before the
// lease it could not renew can have lapsed, and takes the target back by
// itself once a heartbeat succeeds again. (One process, one SQLite file, a
// fake engine; the heartbeat is cut by wrapping the store.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../errors.js";
import { Reconciler } from "../reconciler.js";
import { FakeEngine, FakeSource, until } from "../reconciler.test-support.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { Store } from "../store/store.js";

const REPLICAS = { leaseTtlMs: 800, heartbeatMs: 100, triggerPollMs: 50 };

describe("a replica that cannot renew its leases", () => {
  let dir: string;
  let store: SqliteStore;
  let reconciler: Reconciler | undefined;
  const engine = new FakeEngine();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-fence-"));
    store = new SqliteStore(join(dir, "driftless.db"));
  });

  afterEach(async () => {
    engine.hold = false;
    while (engine.held.length > 0) engine.release();
    await reconciler?.stop({ graceMs: 100 });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("cancels its engine run before its lease can have lapsed, and takes the target back once heartbeats get through", async () => {
    // The store as the replica sees it: with `cut`, a heartbeat answers only with the error of its
    // query's deadline, after longer than the lease lasts (a paused database).
    const cut = { on: false };
    const reachable = new Proxy(store, {
      get(target, property) {
        if (property === "heartbeat" && cut.on) {
          return () =>
            new Promise((_, reject) =>
              setTimeout(() => reject(new StoreUnavailableError("PostgreSQL did not answer")), 1500),
            );
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Store;
    reconciler = await Reconciler.create({
      dataDir: join(dir, "data"),
      store: reachable,
      engine,
      source: new FakeSource(),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      replicas: REPLICAS,
      targets: [
        {
          name: "site",
          repo: "https://example.com/infra.git",
          stack: "site",
          passphrase: "test-passphrase",
          interval: "1h",
          resync: "1h",
        },
      ],
    });
    const r = reconciler;
    engine.hold = true;
    r.start();
    await until(() => engine.held.length === 1, "the startup run to reach the engine");
    const signal = engine.held[0]?.call.signal as AbortSignal;
    expect(signal.aborted).toBe(false);

    cut.on = true;
    await until(() => signal.aborted, "the engine run to be cancelled", 3000);
    const cancelledAt = Date.now();
    // SQLite reckons lease expiry in epoch milliseconds: the lease had not lapsed yet.
    const [lease] = await store.listTargetLeases(["site"]);
    expect(lease?.owner).toBe(r.replicaStats()?.member);
    expect(cancelledAt).toBeLessThan(lease?.expiresAt as number);
    expect(r.replicaStats()).toMatchObject({ owned: 0, fences: 1 });

    cut.on = false;
    engine.hold = false;
    await until(() => r.replicaStats()?.owned === 1, "the replica to take its target back", 3000);
  });
});
