import { describe, expect, it } from "vitest";
import type { AuditFilter } from "../store.js";
import { type AuditEntry, type AuditRecord, auditHash, chainEntry, MAX_DETAIL, outcomeOf } from "./chain.js";
import { verifyAudit } from "./verify.js";

const record = (n: number): AuditRecord => ({
  actorId: "token:ci",
  actor: "ci",
  action: "reconcile",
  target: "site",
  outcome: "ok",
  status: 202,
  requestId: `req-${n}`,
});

/** A chain of `n` entries, as a store would append them. */
function chain(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let i = 1; i <= n; i++) {
    entries.push(chainEntry(entries.at(-1), record(i), `2026-01-01T00:00:0${i}.000Z`));
  }
  return entries;
}

/** A reader over rows as a tampered table holds them (ordered by id, as the stores read). */
const reader = (rows: readonly AuditEntry[]) => ({
  readAudit: async (afterId: number, limit: number, _filter?: AuditFilter) =>
    [...rows]
      .sort((a, b) => a.id - b.id)
      .filter((e) => e.id > afterId)
      .slice(0, limit),
});

describe("verifyAudit", () => {
  it("passes an untouched log, page by page, and an empty one", async () => {
    const rows = chain(7);
    expect(await verifyAudit(reader(rows), { pageSize: 3 })).toEqual({ ok: true, entries: 7, head: rows[6] });
    expect(await verifyAudit(reader([]))).toEqual({ ok: true, entries: 0 });
  });

  it("names an edited entry: its hash no longer matches its content", async () => {
    const rows = chain(5);
    rows[2] = { ...(rows[2] as AuditEntry), actor: "someone-else" };
    expect(await verifyAudit(reader(rows))).toMatchObject({
      ok: false,
      entries: 2,
      broken: { id: 3, time: "2026-01-01T00:00:03.000Z", problem: "edited" },
    });
  });

  it("names the entry after a deleted one, also when the first is deleted", async () => {
    const rows = chain(5);
    const middle = await verifyAudit(reader(rows.filter((e) => e.id !== 3)));
    expect(middle).toMatchObject({ ok: false, broken: { id: 4, problem: "deleted" } });
    expect(middle.ok || middle.broken.message).toBe("entries before 4 were deleted: 3 missing");
    expect(await verifyAudit(reader(rows.slice(2)))).toMatchObject({
      ok: false,
      broken: { id: 3, problem: "deleted", message: "entries before 3 were deleted: 1 to 2 missing" },
    });
  });

  it("names a deletion hidden by renumbering, and entries that swapped places", async () => {
    const rows = chain(4);
    // Entry 2 deleted and entry 3 renumbered with a recomputed hash: the link to entry 1 breaks at 3.
    const { prevHash, hash: _hash, ...third } = rows[2] as AuditEntry;
    const moved = { ...third, id: 2 };
    const renumbered = [rows[0] as AuditEntry, { ...moved, prevHash, hash: auditHash(prevHash, moved) }];
    expect(await verifyAudit(reader(renumbered))).toMatchObject({
      ok: false,
      broken: { id: 2, problem: "deleted" },
    });
    // Two rows that swapped ids: each hash covers its position.
    const swapped = [
      rows[0],
      { ...(rows[2] as AuditEntry), id: 2 },
      { ...(rows[1] as AuditEntry), id: 3 },
      rows[3],
    ];
    expect(await verifyAudit(reader(swapped as AuditEntry[]))).toMatchObject({
      ok: false,
      broken: { id: 2, problem: "edited" },
    });
  });

  it("tells a removed tail only against a head kept elsewhere", async () => {
    const rows = chain(5);
    const head = (rows[4] as AuditEntry).hash;
    const truncated = rows.slice(0, 3);
    expect(await verifyAudit(reader(truncated))).toMatchObject({ ok: true, entries: 3 });
    expect(await verifyAudit(reader(truncated), { head })).toMatchObject({
      ok: false,
      broken: { id: 3, problem: "truncated" },
    });
    // A log that grew since the head was kept still has it.
    expect(await verifyAudit(reader([...rows, ...chain(6).slice(5)]), { head })).toMatchObject({ ok: true });
  });

  it("cuts long details, and reads outcomes from status codes", () => {
    expect(chainEntry(undefined, { ...record(1), detail: "x".repeat(2000) }, "t").detail).toHaveLength(
      MAX_DETAIL,
    );
    expect([outcomeOf(202), outcomeOf(303), outcomeOf(401), outcomeOf(409), outcomeOf(503)]).toEqual([
      "ok",
      "ok",
      "refused",
      "refused",
      "failed",
    ]);
  });
});
