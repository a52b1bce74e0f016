// The audit log's part of the store contract: `auditContract` registers its
// tests inside `storeContract` (../store.contract.test.ts), so they run against
// SQLite and a real PostgreSQL with the suite's databases.
import { expect, it } from "vitest";
import type { Store } from "../store.js";
import { type AuditRecord, auditHash, GENESIS_HASH } from "./chain.js";
import { verifyAudit } from "./verify.js";

const record = (extra: Partial<AuditRecord> = {}): AuditRecord => ({
  actorId: "token:ci-deployer",
  actor: "ci-deployer",
  source: "10.0.0.7",
  action: "approve",
  target: "site",
  outcome: "ok",
  status: 202,
  requestId: "req-1",
  ...extra,
});

/** Registers the audit log's contract tests; `open` connects to the test's database as one more process would. */
export function auditContract(open: () => Promise<Store>): void {
  it("appends numbered entries, each hashed over its content and the hash before", async () => {
    const store = await open();
    expect(await store.auditHead()).toBeUndefined();
    const first = await store.appendAudit(record({ detail: "run 1" }));
    const second = await (await open()).appendAudit(
      record({ actorId: undefined, actor: undefined, outcome: "refused", status: 401 }),
    );
    expect(first).toMatchObject({ id: 1, prevHash: GENESIS_HASH, detail: "run 1", actor: "ci-deployer" });
    expect(second).toMatchObject({ id: 2, prevHash: first.hash, outcome: "refused", status: 401 });
    expect(second.actor).toBeUndefined();
    const { prevHash, hash, ...fields } = second;
    expect(hash).toBe(auditHash(prevHash, fields));
    // Read back exactly as appended (the hash covers every field).
    expect(await store.readAudit(0, 10)).toEqual([first, second]);
    expect(await store.auditHead()).toEqual(second);
  });

  it("lists entries newest first by target, by actor name or id, since a time, and up to a limit", async () => {
    const store = await open();
    await store.appendAudit(record({ target: "site", actor: "alice", actorId: "oidc:x#1" }));
    await store.appendAudit(record({ target: "api", actor: "bob", actorId: "oidc:x#2" }));
    const third = await store.appendAudit(record({ target: "site", actor: "bob", actorId: "oidc:x#2" }));
    const ids = (entries: { id: number }[]) => entries.map((e) => e.id);
    expect(ids(await store.listAudit())).toEqual([3, 2, 1]);
    expect(ids(await store.listAudit({ target: "site" }))).toEqual([3, 1]);
    expect(ids(await store.listAudit({ actor: "bob" }))).toEqual([3, 2]);
    expect(ids(await store.listAudit({ actor: "oidc:x#1" }))).toEqual([1]);
    expect(ids(await store.listAudit({ target: "site", actor: "bob" }))).toEqual([3]);
    expect(ids(await store.listAudit({ since: third.time }))).toContain(3);
    expect(await store.listAudit({ since: "2999-01-01T00:00:00.000Z" })).toEqual([]);
    expect(ids(await store.listAudit({ limit: 2 }))).toEqual([3, 2]);
    // Pages in id order, filtered too (what `audit --follow` reads).
    expect(ids(await store.readAudit(1, 10))).toEqual([2, 3]);
    expect(ids(await store.readAudit(0, 1))).toEqual([1]);
    expect(ids(await store.readAudit(0, 10, { actor: "bob" }))).toEqual([2, 3]);
  });

  it("never forks the chain when processes append at once", async () => {
    const stores = [await open(), await open(), await open()];
    await Promise.all(
      stores.flatMap((store, s) =>
        Array.from({ length: 10 }, (_, i) => store.appendAudit(record({ requestId: `r-${s}-${i}` }))),
      ),
    );
    const entries = await stores[0]?.readAudit(0, 100);
    expect(entries?.map((e) => e.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(new Set(entries?.map((e) => e.requestId)).size).toBe(30);
    const verified = await verifyAudit(stores[1] as Store, { pageSize: 7 });
    expect(verified).toMatchObject({ ok: true, entries: 30, head: { id: 30 } });
  });
}
