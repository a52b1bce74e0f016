// A dashboard session signed in with a personal token ends with the token
// (revoked or expired), refused and audited; and one request reads its
// session once. Through a real server over a real SQLite store.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Reconciler } from "../../../reconciler.js";
import { FakeEngine, FakeSource } from "../../../reconciler.test-support.js";
import { SqliteStore } from "../../../store/sqlite/store.js";
import type { PersonalTokenStore, SessionRevocations } from "../../../store/store.js";
import type { Identity } from "../../auth/identity.js";
import { tokenDigest } from "../../auth/tokens.js";
import { type DriftlessServer, listen } from "../../server.js";
import { Sessions, sessionKey } from "./session.js";

const SECRET = "session-secret-9e1";
const ada: Identity = {
  id: "oidc:https://id.example#ada",
  kind: "user",
  name: "ada",
  email: "ada@example.com",
  groups: [],
  roles: [],
};
const { kind: _kind, ...adaAsOwner } = ada;

describe("dashboard sessions and the credentials they were made with", () => {
  let dir: string;
  let store: SqliteStore;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  const sessions = new Sessions({ keys: () => [sessionKey(SECRET)] });
  /** Store look-ups a request made: session revocations and personal tokens. */
  const lookups = { revocations: 0, tokens: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-request-session-"));
    writeFileSync(join(dir, "ops-token"), "ops-token\n");
    store = new SqliteStore(join(dir, "driftless.db"));
    const revocations: SessionRevocations = {
      revokeSession: (id, expiresAt) => store.revokeSession(id, expiresAt),
      isSessionRevoked: (id) => {
        lookups.revocations++;
        return store.isSessionRevoked(id);
      },
    };
    const tokens = store.personalTokens;
    const personalTokens: PersonalTokenStore = {
      addPersonalToken: (record) => tokens.addPersonalToken(record),
      listPersonalTokens: (owner) => tokens.listPersonalTokens(owner),
      revokePersonalToken: (id, owner, at) => tokens.revokePersonalToken(id, owner, at),
      personalToken: (id) => {
        lookups.tokens++;
        return tokens.personalToken(id);
      },
    };
    reconciler = await Reconciler.create({
      dataDir: dir,
      store,
      engine: new FakeEngine(),
      source: new FakeSource(),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        {
          name: "site",
          repo: "https://example.com/infra.git",
          stack: "dev",
          passphrase: "p",
          interval: "1h",
        },
      ],
    });
    server = await listen(reconciler, {
      port: 0,
      tokens: [
        { name: "ops", secret: { file: join(dir, "ops-token") }, roles: ["admin"] },
        { name: "viewer", secret: "viewer-token", roles: ["reader"] },
      ],
      policy: { defaultRole: "reader", bindings: [{ role: "admin", users: ["ada@example.com"] }] },
      personalTokens,
      sessions: { secret: SECRET, revocations },
      audit: store,
    });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 0 });
    await reconciler?.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    lookups.revocations = 0;
    lookups.tokens = 0;
  });

  const cookieOf = (response: Response) =>
    /driftless_session=[^;]*/.exec(response.headers.get("set-cookie") ?? "")?.[0] ?? "";
  const csrfOf = (text: string) => /name="csrf" value="([^"]+)"/.exec(text)?.[1] ?? "";
  const get = (path: string, headers: Record<string, string>) =>
    fetch(`${server.url}${path}`, { redirect: "manual", headers });
  const post = (path: string, cookie: string, fields: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  /** Ada's personal token, made through the dashboard: the token and its id. */
  const makeToken = async (label: string) => {
    const made = sessions.create(ada);
    const created = await post("/ui/tokens", `driftless_session=${made.cookie}`, {
      csrf: made.csrf,
      label,
      expires: "7d",
    });
    expect(created.status).toBe(201);
    const token = /<pre id="new-token">([^<]+)<\/pre>/.exec(await created.text())?.[1] ?? "";
    const id = /^dlpt_([\w-]{12})_/.exec(token)?.[1] ?? "";
    return { token, id, owner: made };
  };
  /** A session cookie made by logging in at the form with `token`. */
  const logIn = async (token: string) => {
    const form = await get("/ui/login", {});
    const login = await post("/ui/login", cookieOf(form), { csrf: csrfOf(await form.text()), token });
    expect(login.status).toBe(303);
    return cookieOf(login);
  };
  /** The audit log's entries after `from` once there are `count` of them. */
  const entriesAfter = (from: number, count: number) =>
    vi.waitFor(async () => {
      const entries = await store.readAudit(from, 100);
      expect(entries).toHaveLength(count);
      return entries;
    });

  it("ends a session signed in with a personal token when the token is revoked, refused and audited", async () => {
    const { token, id, owner } = await makeToken("laptop");
    const cookie = await logIn(token);
    const page = await get("/ui/targets/site", { cookie });
    expect(page.status).toBe(200);
    const pageCsrf = csrfOf(await page.text());
    const revoked = await post(`/ui/tokens/${id}/revoke`, `driftless_session=${owner.cookie}`, {
      csrf: owner.csrf,
    });
    expect(revoked.status).toBe(303);
    const head = (await store.auditHead())?.id ?? 0;

    const refused = await get("/ui/targets/site", { cookie });
    expect(refused.status).toBe(401);
    const why = `the personal token &quot;laptop&quot; (${id}) it was signed in with was revoked`;
    expect(await refused.text()).toContain(`Your session ended: ${why}. Log in again.`);
    // A new anonymous session replaces the dead cookie.
    const replaced = cookieOf(refused);
    expect(replaced).toMatch(/^driftless_session=.+/);
    expect(replaced).not.toBe(cookie);
    // Forms of the ended session act no more (its CSRF token still matched them).
    const suspend = await post("/ui/targets/site/suspend", cookie, { csrf: pageCsrf, reason: "r" });
    expect(suspend.status).toBe(401);
    expect((await reconciler.status("site")).suspension).toBeUndefined();
    // Routes open to anyone but bound to a session refuse it too.
    expect((await get("/ui/me", { cookie })).status).toBe(401);
    expect((await get("/ui/events", { cookie })).status).toBe(401);

    const entries = await entriesAfter(head, 4);
    expect(entries.map((e) => [e.action, e.outcome, e.status, e.actor, e.actorId])).toEqual([
      ["read", "refused", 401, "ada", `personal:${id}`],
      ["suspend", "refused", 401, "ada", `personal:${id}`],
      ["read", "refused", 401, "ada", `personal:${id}`],
      ["read", "refused", 401, "ada", `personal:${id}`],
    ]);
    expect(entries[0]?.detail).toBe(
      `session ended: the personal token "laptop" (${id}) it was signed in with was revoked`,
    );
    expect(entries[1]?.target).toBe("site");
    expect(JSON.stringify(entries)).not.toContain(token);
  });

  it("ends a session signed in with a personal token once the token expired", async () => {
    const id = "expiredTok01";
    await store.personalTokens.addPersonalToken({
      id,
      label: "old",
      owner: adaAsOwner,
      digest: tokenDigest(`dlpt_${id}_${"x".repeat(43)}`),
      createdAt: new Date(Date.now() - 7200_000).toISOString(),
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    // The session was made while the token held (a login an hour ago); its cookie has hours left.
    const session = sessions.create({ ...ada, id: `personal:${id}`, kind: "personal" });
    const cookie = `driftless_session=${session.cookie}`;
    const head = (await store.auditHead())?.id ?? 0;
    const refused = await get("/ui", { cookie });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain(
      `Your session ended: the personal token &quot;old&quot; (${id}) it was signed in with expired.`,
    );
    const tokensPage = await get("/ui/tokens", { cookie });
    expect(tokensPage.status).toBe(401);
    // The login form still works for it, and logging out of it is allowed.
    expect((await get("/ui/login", { cookie })).status).toBe(200);
    const logout = await post("/ui/logout", cookie, { csrf: session.csrf });
    expect(logout.status).toBe(303);
    const entries = await entriesAfter(head, 3);
    expect(entries.map((e) => [e.action, e.outcome, e.status, e.actor])).toEqual([
      ["read", "refused", 401, "ada"],
      ["read", "refused", 401, "ada"],
      ["logout", "ok", 303, "ada"],
    ]);
    expect(entries[0]?.detail).toBe(
      `session ended: the personal token "old" (${id}) it was signed in with expired`,
    );
  });

  it("ends a session signed in with a named token the config no longer has, and gives one that it has its roles of now", async () => {
    const token = (name: string, roles: string[]): Identity => ({
      id: `token:${name}`,
      kind: "token",
      name,
      groups: [],
      roles,
    });
    // Signed in with a token removed from the config since (sessions.secret keeps the cookie valid).
    const gone = sessions.create(token("ci-old", ["admin"]));
    const head = (await store.auditHead())?.id ?? 0;
    const refused = await get("/ui/targets/site", { cookie: `driftless_session=${gone.cookie}` });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain(
      "Your session ended: the API token &quot;ci-old&quot; it was signed in with is no longer configured.",
    );
    const [entry] = await entriesAfter(head, 1);
    expect([entry?.outcome, entry?.actorId]).toEqual(["refused", "token:ci-old"]);
    // Signed in when `viewer` was an admin; the config makes it a reader now: it may read, not act.
    const demoted = sessions.create(token("viewer", ["admin"]), undefined, "viewer-token");
    const cookie = `driftless_session=${demoted.cookie}`;
    const page = await get("/ui/targets/site", { cookie });
    expect(page.status).toBe(200);
    const suspend = await post("/ui/targets/site/suspend", cookie, { csrf: demoted.csrf, reason: "r" });
    expect(suspend.status).toBe(403);
    expect((await reconciler.status("site")).suspension).toBeUndefined();
    // The token that still is what it was keeps its session and its power.
    const ops = sessions.create(token("ops", ["admin"]), undefined, "ops-token");
    const opsCookie = `driftless_session=${ops.cookie}`;
    expect((await post("/ui/targets/site/suspend", opsCookie, { csrf: ops.csrf, reason: "r" })).status).toBe(
      303,
    );
    await reconciler.resume("site", { by: "test", reason: "r" });
  });

  it("ends the sessions made with a named token once it is rotated, and keeps those made with the new one", async () => {
    const login = async (token: string) => {
      const form = await get("/ui/login", {});
      const anonymous = cookieOf(form);
      const signedIn = await post("/ui/login", anonymous, { csrf: csrfOf(await form.text()), token });
      expect(signedIn.status).toBe(303);
      return cookieOf(signedIn);
    };
    const before = await login("ops-token");
    expect((await get("/ui/targets/site", { cookie: before })).status).toBe(200);
    // The cookie names the token by an HMAC under the session key, never by the token.
    expect(Buffer.from(before.split(".")[2] as string, "base64url").toString()).not.toContain("ops-token");
    writeFileSync(join(dir, "ops-token"), "ops-token-rotated\n");
    try {
      const head = (await store.auditHead())?.id ?? 0;
      const refused = await get("/ui/targets/site", { cookie: before });
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain(
        "Your session ended: the API token &quot;ops&quot; it was signed in with was replaced since (or cannot be checked).",
      );
      const [entry] = await entriesAfter(head, 1);
      expect([entry?.outcome, entry?.actorId]).toEqual(["refused", "token:ops"]);
      const after = await login("ops-token-rotated");
      expect((await get("/ui/targets/site", { cookie: after })).status).toBe(200);
      // A token's session from before sessions named their token cannot be checked: it ends too.
      const unbound = sessions.create({
        id: "token:ops",
        kind: "token",
        name: "ops",
        groups: [],
        roles: ["admin"],
      });
      expect((await get("/ui/targets/site", { cookie: `driftless_session=${unbound.cookie}` })).status).toBe(
        401,
      );
    } finally {
      writeFileSync(join(dir, "ops-token"), "ops-token\n");
    }
  });

  it("keeps a session of a token that still holds, and of a user", async () => {
    const { token } = await makeToken("desktop");
    const cookie = await logIn(token);
    const me = await get("/ui/me", { cookie });
    expect(me.status).toBe(200);
    expect(await me.text()).toContain('<dd id="me-kind">personal</dd>');
    const user = sessions.create(ada);
    expect((await get("/ui/targets/site", { cookie: `driftless_session=${user.cookie}` })).status).toBe(200);
  });

  it("reads a page request's session once: one revocation look-up, and one token look-up for a personal token's", async () => {
    const { token } = await makeToken("counted");
    const cookie = await logIn(token);
    const user = `driftless_session=${sessions.create(ada).cookie}`;

    lookups.revocations = 0;
    lookups.tokens = 0;
    const page = await get("/ui/targets/site", { cookie });
    expect(page.status).toBe(200);
    const csrf = csrfOf(await page.text());
    expect(lookups).toEqual({ revocations: 1, tokens: 1 });

    // An action reads the session for the router, the CSRF check and the page it answers with.
    lookups.revocations = 0;
    lookups.tokens = 0;
    const suspended = await post("/ui/targets/site/suspend", cookie, { csrf, reason: "counted" });
    expect(suspended.status).toBe(303);
    expect(lookups).toEqual({ revocations: 1, tokens: 1 });
    await reconciler.resume("site", { by: "test", reason: "counted" });

    // The tokens page asked for its owner twice and its view once.
    lookups.revocations = 0;
    lookups.tokens = 0;
    expect((await get("/ui/tokens", { cookie: user })).status).toBe(200);
    expect(lookups).toEqual({ revocations: 1, tokens: 0 });

    // A bearer token is resolved once too (by the router; the page asks again for its live link).
    lookups.revocations = 0;
    lookups.tokens = 0;
    expect((await get("/ui/targets/site", { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(lookups).toEqual({ revocations: 0, tokens: 1 });
  });
});
