import { describe, expect, it } from "vitest";
import { SpecError } from "../../errors.js";
import type { PersonalTokenRecord, PersonalTokenStore } from "../../store/store.js";
import type { Identity } from "./identity.js";
import { Policy, type PolicyOptions } from "./policy.js";
import { newPersonalToken, tokenDigest, tokenResolver } from "./tokens.js";
import { recordedBy } from "./who.js";

const PLATFORM: PolicyOptions = {
  roles: {
    deployer: [{ actions: ["read", "reconcile", "preview", "promote"], targets: ["staging-*", "dev-?"] }],
    approver: [{ actions: ["approve", "rollback", "suspend", "resume"], targets: ["prod-*"] }],
  },
  bindings: [
    { role: "deployer", tokens: ["ci-deployer"] },
    { role: "approver", groups: ["platform"] },
    { role: "admin", users: ["root@example.com"] },
  ],
  defaultRole: "reader",
};

const token = (name: string, roles: string[] = []): Identity => ({
  id: `token:${name}`,
  kind: "token",
  name,
  groups: [],
  roles,
});
const user = (email: string, groups: string[] = []): Identity => ({
  id: `oidc:https://id.example#${email}`,
  kind: "user",
  name: email,
  email,
  subject: `sub-${email}`,
  groups,
  roles: [],
});

describe("the access policy", () => {
  const policy = new Policy(PLATFORM, ["ci-deployer", "nightly"]);

  it("grants a bound token its role's actions on matching targets only", () => {
    const ci = token("ci-deployer");
    expect(policy.allows(ci, "promote", "staging-web")).toBe(true);
    expect(policy.allows(ci, "read", "dev-1")).toBe(true);
    // `?` is one character, `*` any run; names must match whole.
    expect(policy.allows(ci, "read", "dev-12")).toBe(false);
    expect(policy.allows(ci, "promote", "prod-web")).toBe(false);
    expect(policy.allows(ci, "approve", "staging-web")).toBe(false);
    expect(policy.allows(ci, "read", "xstaging-web")).toBe(false);
  });

  it("does not give tokens the default role of signed-in users", () => {
    expect(policy.allows(token("nightly"), "read", "prod-web")).toBe(false);
    expect(policy.allows(token("nightly", ["reader"]), "read", "prod-web")).toBe(true);
  });

  it("gives users the default role, and more through their groups and email", () => {
    const dev = user("dev@example.com");
    expect(policy.allows(dev, "read", "prod-web")).toBe(true);
    expect(policy.allows(dev, "approve", "prod-web")).toBe(false);
    const ops = user("ops@example.com", ["platform"]);
    expect(policy.allows(ops, "approve", "prod-web")).toBe(true);
    expect(policy.allows(ops, "approve", "staging-web")).toBe(false);
    // Emails compare without case; admin covers every action, and the service.
    const root = user("Root@Example.com");
    expect(policy.allows(root, "rollback", "anything")).toBe(true);
    expect(policy.allows(root, "admin")).toBe(true);
    expect(policy.allows(ops, "admin")).toBe(false);
  });

  it("binds users by subject too, and a personal token keeps its owner's subject and groups", () => {
    const bySubject = new Policy({ bindings: [{ role: "admin", users: ["sub-ada"] }] });
    const personal: Identity = {
      ...user("ada@example.com"),
      id: "personal:x",
      kind: "personal",
      subject: "sub-ada",
    };
    expect(bySubject.allows(personal, "approve", "prod-web")).toBe(true);
    expect(policy.allows({ ...personal, groups: ["platform"] }, "approve", "prod-web")).toBe(true);
  });

  it("answers whether an identity may act on any target when none is named", () => {
    expect(policy.allows(token("ci-deployer"), "read")).toBe(true);
    expect(policy.allows(token("ci-deployer"), "approve")).toBe(false);
    expect(policy.allows(undefined, "read")).toBe(false);
  });

  it("names who was refused and the missing permission", () => {
    expect(policy.refusal(token("ci-deployer"), "approve", "prod-web")).toBe(
      "token ci-deployer may not approve prod-web (needs approve on prod-web)",
    );
    expect(policy.refusal(user("dev@example.com"), "admin")).toBe(
      "user dev@example.com may not administer this service (needs admin)",
    );
    expect(policy.refusal(token("ci-deployer"), "promote", "staging-web")).toBeUndefined();
  });

  it("refuses a bad policy naming each field and value", () => {
    const bad = () =>
      new Policy(
        {
          roles: {
            admin: [{ actions: ["read"] }],
            odd: [{ actions: ["deploy" as never], targets: ["prod/*"] }],
          },
          bindings: [
            { role: "ghost", users: ["a@example.com"] },
            { role: "odd" },
            { role: "odd", tokens: ["nobody"] },
          ],
          defaultRole: "viewer",
        },
        ["ci"],
      );
    expect(bad).toThrowError(SpecError);
    const message = (() => {
      try {
        bad();
      } catch (error) {
        return (error as SpecError).issues.map((i) => `${i.path} ${i.message}`);
      }
      return [];
    })();
    expect(message).toEqual([
      'roles.admin is built in and cannot be redefined, got "admin"',
      expect.stringContaining('roles.odd[0].actions has an unknown action "deploy"'),
      'roles.odd[0].targets has a bad glob "prod/*": use target name characters with * and ?',
      expect.stringContaining('bindings[0].role is not a role, got "ghost"'),
      "bindings[1] binds nobody: give users, groups or tokens",
      'bindings[2].tokens names no configured token, got "nobody"',
      expect.stringContaining('defaultRole is not a role, got "viewer"'),
    ]);
  });
});

describe("who a record names", () => {
  it("takes by from the identity, and a body's by only from an admin, as on behalf of", () => {
    expect(recordedBy(token("ci"), undefined, false)).toEqual({ by: "ci" });
    expect(recordedBy(token("ci"), "mallory", false)).toBe(
      'by is taken from who you are (token ci); only an admin may name another person, got "mallory"',
    );
    expect(recordedBy(token("ops"), "ada", true)).toEqual({ by: "ops", onBehalfOf: "ada" });
    expect(recordedBy(token("ops"), 7, true)).toBe("by must name the person an admin acts for, got 7");
  });
});

/** Personal tokens in memory, as a store keeps them. */
class MemoryTokens implements PersonalTokenStore {
  readonly rows = new Map<string, PersonalTokenRecord>();
  async addPersonalToken(record: PersonalTokenRecord) {
    this.rows.set(record.id, record);
  }
  async personalToken(id: string) {
    return this.rows.get(id);
  }
  async listPersonalTokens(ownerId: string) {
    return [...this.rows.values()].filter((r) => r.owner.id === ownerId);
  }
  async revokePersonalToken(id: string, ownerId: string, at: string) {
    const row = this.rows.get(id);
    if (!row || row.owner.id !== ownerId || row.revokedAt) return false;
    this.rows.set(id, { ...row, revokedAt: at });
    return true;
  }
}

describe("resolving bearer tokens", () => {
  it("resolves named tokens, and bare ones as admins named by position", async () => {
    process.env.DRIFTLESS_POLICY_TEST_TOKEN = "from-env";
    const resolve = tokenResolver([
      "bare-one",
      { name: "ci-deployer", secret: { env: "DRIFTLESS_POLICY_TEST_TOKEN" }, roles: ["deployer"] },
    ]);
    expect(await resolve("bare-one")).toEqual({
      id: "token:token-1",
      kind: "token",
      name: "token-1",
      groups: [],
      roles: ["admin"],
    });
    expect(await resolve("from-env")).toMatchObject({ name: "ci-deployer", roles: ["deployer"] });
    expect(await resolve("from-env ")).toBeUndefined();
    expect(await resolve("")).toBeUndefined();
  });

  it("resolves a personal token to its owner until it expires or is revoked, by digest only", async () => {
    const store = new MemoryTokens();
    let now = Date.parse("2026-01-01T00:00:00Z");
    const resolve = tokenResolver([], { personal: store, now: () => now });
    const owner = {
      id: "oidc:x#ada",
      name: "ada",
      email: "ada@example.com",
      subject: "ada",
      groups: ["platform"],
      roles: [],
    };
    const { id, token: secret } = newPersonalToken();
    expect(secret).toMatch(/^dlpt_[\w-]{12}_[\w-]{43}$/);
    await store.addPersonalToken({
      id,
      label: "laptop",
      owner,
      digest: tokenDigest(secret),
      createdAt: "2026-01-01T00:00:00.000Z",
      expiresAt: "2026-01-02T00:00:00.000Z",
    });
    expect(JSON.stringify([...store.rows.values()])).not.toContain(secret);
    expect(await resolve(secret)).toEqual({ ...owner, id: `personal:${id}`, kind: "personal" });
    // The same id with another secret is someone guessing.
    expect(await resolve(`dlpt_${id}_${"A".repeat(43)}`)).toBeUndefined();
    now = Date.parse("2026-01-02T00:00:00Z");
    expect(await resolve(secret)).toBeUndefined();
    now = Date.parse("2026-01-01T12:00:00Z");
    await store.revokePersonalToken(id, owner.id, "2026-01-01T06:00:00.000Z");
    expect(await resolve(secret)).toBeUndefined();
  });
});
