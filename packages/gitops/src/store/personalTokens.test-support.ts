// The identity part of the store contract — personal tokens, and the person an admin acted for —
// called from store.contract.test.ts beside the other parts (audit, leases, resource history).
import { expect, it } from "vitest";
import type { PersonalTokenRecord, Store } from "./store.js";

const ada = {
  id: "oidc:https://id.example#ada",
  name: "ada",
  email: "ada@example.com",
  groups: ["platform"],
  roles: [],
};
const token = (
  id: string,
  createdAt: string,
  extra: Partial<PersonalTokenRecord> = {},
): PersonalTokenRecord => ({
  id,
  label: `label ${id}`,
  owner: ada,
  digest: "d".repeat(64),
  createdAt,
  expiresAt: "2999-01-01T00:00:00.000Z",
  ...extra,
});

/** Personal tokens: stored by digest, listed per owner newest first, revoked by their owner only, seen by every process. */
export function personalTokenContract(open: () => Promise<Store>): void {
  it("keeps personal tokens per owner and lets only the owner revoke one, for every process", async () => {
    const store = await open();
    const other = await open();
    expect(await store.personalTokens.personalToken("nope")).toBeUndefined();
    await store.personalTokens.addPersonalToken(token("t1", "2026-01-01T00:00:00.000Z"));
    await store.personalTokens.addPersonalToken(token("t2", "2026-01-02T00:00:00.000Z"));
    await store.personalTokens.addPersonalToken(
      token("t3", "2026-01-03T00:00:00.000Z", {
        owner: { ...ada, id: "oidc:https://id.example#bob", name: "bob" },
      }),
    );
    expect(await other.personalTokens.personalToken("t1")).toEqual(token("t1", "2026-01-01T00:00:00.000Z"));
    expect((await other.personalTokens.listPersonalTokens(ada.id)).map((t) => t.id)).toEqual(["t2", "t1"]);
    expect(await other.personalTokens.revokePersonalToken("t3", ada.id, "2026-02-01T00:00:00.000Z")).toBe(
      false,
    );
    expect(await other.personalTokens.revokePersonalToken("t1", ada.id, "2026-02-01T00:00:00.000Z")).toBe(
      true,
    );
    expect(await store.personalTokens.revokePersonalToken("t1", ada.id, "2026-02-02T00:00:00.000Z")).toBe(
      false,
    );
    expect((await store.personalTokens.personalToken("t1"))?.revokedAt).toBe("2026-02-01T00:00:00.000Z");
    expect((await store.personalTokens.personalToken("t3"))?.revokedAt).toBeUndefined();
  });

  it("keeps the person an admin promoted or rolled back for, beside who asked", async () => {
    const store = await open();
    await store.recordPromotion({
      id: "p1",
      target: "prod",
      source: "prod",
      revision: "b".repeat(40),
      kind: "rollback",
      by: "ops",
      reason: "broken login",
      onBehalfOf: "ada",
      at: "2025-01-02T00:00:00.000Z",
    });
    expect((await (await open()).listPromotions("prod"))[0]).toMatchObject({ by: "ops", onBehalfOf: "ada" });
  });
}
