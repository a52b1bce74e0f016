// The audit log as the HTTP API and the dashboard write and read it: through
// a real server over a real SQLite store, with a fake engine.
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { type FakeEngine, type FakeSource, useReconciler } from "../reconciler.test-support.js";
import type { AuditEntry } from "../store/audit/chain.js";
import { verifyAudit } from "../store/audit/verify.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { AuditStore } from "../store/store.js";
import type { Identity } from "./auth/identity.js";
import { type DriftlessServer, listen } from "./server.js";
import { Sessions, sessionKey } from "./ui/account/session.js";

const TOKEN = "audit-token-1";
/** An audit log that holds nothing. */
const dummyAudit: AuditStore = {
  appendAudit: () => Promise.reject(new Error("not used")),
  listAudit: async () => [],
  readAudit: async () => [],
  auditHead: async () => undefined,
};
const OTHER = "audit-token-2";

describe("the audit log over HTTP", () => {
  let dir = "";
  const { create } = useReconciler((h: { dir: string; engine: FakeEngine; source: FakeSource }) => {
    dir = h.dir;
  });

  /** A server whose handler appends to `store` (or `audit`); a target config value doubles as a secret. */
  async function serve(
    extra: Partial<Parameters<typeof listen>[1]> = {},
  ): Promise<{ server: DriftlessServer; store: SqliteStore }> {
    const store = new SqliteStore(join(dir, "audit.db"));
    const reconciler = await create({
      store,
      targets: [
        {
          name: "site",
          repo: "https://example.com/infra.git",
          stack: "dev",
          passphrase: "test-passphrase",
          interval: "1h",
          secretConfig: { key: "top-secret-value" },
        },
      ],
    });
    const server = await listen(reconciler, {
      port: 0,
      tokens: [TOKEN, OTHER],
      sessions: { revocations: store },
      personalTokens: store.personalTokens,
      audit: store,
      ...extra,
    });
    return { server, store };
  }
  /** The log once it holds `count` entries (appends finish after the replies). */
  const logOf = (store: SqliteStore, count: number) =>
    vi.waitFor(
      async () => {
        const entries = await store.readAudit(0, 100);
        expect(entries).toHaveLength(count);
        return entries;
      },
      { timeout: 10_000 },
    );

  it("records commands and refusals with actor, target, outcome and request id, but not reads", async () => {
    const { server, store } = await serve();
    try {
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const reconcile = await fetch(`${server.url}/targets/site/reconcile`, {
        method: "POST",
        headers: { ...bearer(OTHER), "x-request-id": "proxy-req-42" },
      });
      expect(reconcile.status).toBe(202);
      expect(reconcile.headers.get("x-request-id")).toBe("proxy-req-42");
      const refused = await fetch(`${server.url}/targets/site/approve`, {
        method: "POST",
        headers: bearer("wrong"),
      });
      expect(refused.status).toBe(401);
      const generated = refused.headers.get("x-request-id") ?? "";
      expect(generated).toMatch(/^[0-9a-f-]{36}$/);
      // A header that is not an id is not echoed: a new one replaces it.
      const odd = await fetch(`${server.url}/targets/site`, {
        headers: { ...bearer(TOKEN), "x-request-id": "a b" },
      });
      expect(odd.status).toBe(200);
      expect(odd.headers.get("x-request-id")).not.toBe("a b");
      const nothing = await fetch(`${server.url}/targets/site/approve`, {
        method: "POST",
        headers: bearer(TOKEN),
        body: JSON.stringify({ by: "me", reason: "ship it" }),
      });
      expect(nothing.status).toBe(409);
      const unknown = await fetch(`${server.url}/targets/nope/suspend`, {
        method: "POST",
        headers: bearer(TOKEN),
      });
      expect(unknown.status).toBe(404);

      const entries = await logOf(store, 4);
      const runId = ((await reconcile.json()) as { runId: string }).runId;
      expect(entries[0]).toMatchObject({
        actorId: "token:token-2",
        actor: "token-2",
        source: "127.0.0.1",
        action: "reconcile",
        target: "site",
        outcome: "ok",
        status: 202,
        requestId: "proxy-req-42",
        detail: `run ${runId}`,
      });
      expect(entries[1]).toMatchObject({
        action: "approve",
        target: "site",
        outcome: "refused",
        status: 401,
      });
      expect(entries[1]?.actor).toBeUndefined();
      expect(entries[1]?.requestId).toBe(generated);
      expect(entries[2]).toMatchObject({
        actor: "token-1",
        action: "approve",
        outcome: "refused",
        status: 409,
      });
      expect(entries[3]).toMatchObject({
        action: "suspend",
        target: "nope",
        outcome: "refused",
        status: 404,
      });
      expect(await verifyAudit(store)).toMatchObject({ ok: true, entries: 4 });

      // GET /audit: admins only, filtered, newest first; reading it is not recorded.
      expect((await fetch(`${server.url}/audit`)).status).toBe(401);
      const byActor = await fetch(`${server.url}/audit?actor=token-1&limit=10`, { headers: bearer(TOKEN) });
      const listed = ((await byActor.json()) as { entries: AuditEntry[] }).entries;
      expect(listed.map((e) => e.id)).toEqual([4, 3]);
      const byTarget = await fetch(`${server.url}/audit?target=nope`, { headers: bearer(TOKEN) });
      expect(((await byTarget.json()) as { entries: AuditEntry[] }).entries.map((e) => e.id)).toEqual([4]);
      const bad = await fetch(`${server.url}/audit?since=yesterday`, { headers: bearer(TOKEN) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({
        error: 'since must be a time such as 2026-01-31T12:00:00Z, got "yesterday"',
      });
      // The refused GET /audit above was recorded; the successful reads were not.
      const last = await logOf(store, 5);
      expect(last[4]).toMatchObject({ action: "read", outcome: "refused", status: 401 });
    } finally {
      await server.shutdown({ graceMs: 0 });
    }
  });

  it("answers a command when the audit log cannot be appended to, and logs why", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => lines.push(line) });
    const { server, store } = await serve({
      logger,
      audit: { ...dummyAudit, appendAudit: () => Promise.reject(new Error("the database is away")) },
    });
    try {
      const res = await fetch(`${server.url}/targets/site/reconcile`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(202);
      await vi.waitFor(() => expect(lines.join("")).toContain("could not append to the audit log"));
      expect(lines.join("")).toContain("the database is away");
      expect(await store.readAudit(0, 10)).toEqual([]);
    } finally {
      await server.shutdown({ graceMs: 0 });
    }
  });

  it("masks secrets in what it records", async () => {
    const { server, store } = await serve();
    try {
      // A refusal that echoes what it was sent: here a secret value.
      const res = await fetch(`${server.url}/targets/site/approve`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ revision: "top-secret-value", by: "me", reason: "go" }),
      });
      expect(res.status).toBe(400);
      const [entry] = await logOf(store, 1);
      expect(entry?.detail).toMatch(/^revision must be a commit SHA, got "\*+"$|redacted/);
      expect(JSON.stringify(entry)).not.toContain("top-secret-value");
    } finally {
      await server.shutdown({ graceMs: 0 });
    }
  });

  it("records dashboard logins, actions and logouts, and shows them on the audit page", async () => {
    const { server, store } = await serve();
    try {
      const cookieOf = (response: Response) =>
        /driftless_session=[^;]*/.exec(response.headers.get("set-cookie") ?? "")?.[0] ?? "";
      const csrfOf = async (response: Response) =>
        /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? "";
      const post = (path: string, cookie: string, fields: Record<string, string>) =>
        fetch(`${server.url}${path}`, {
          method: "POST",
          redirect: "manual",
          headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(fields).toString(),
        });
      const form = await fetch(`${server.url}/ui/login`);
      const anonymous = cookieOf(form);
      const csrf = await csrfOf(form);
      expect((await post("/ui/login", anonymous, { csrf, token: "wrong" })).status).toBe(401);
      const login = await post("/ui/login", anonymous, { csrf, token: OTHER });
      expect(login.status).toBe(303);
      const cookie = cookieOf(login);
      const page = await fetch(`${server.url}/ui/targets/site`, { headers: { cookie } });
      const sessionCsrf = await csrfOf(page);
      const suspend = await post("/ui/targets/site/suspend", cookie, {
        csrf: sessionCsrf,
        by: "x",
        reason: "maintenance",
      });
      expect(suspend.status).toBe(303);
      expect((await post("/ui/logout", cookie, { csrf: sessionCsrf })).status).toBe(303);

      const entries = await logOf(store, 4);
      expect(entries.map((e) => [e.action, e.outcome, e.status, e.actor])).toEqual([
        ["login", "refused", 401, undefined],
        ["login", "ok", 303, "token-2"],
        ["suspend", "ok", 303, "token-2"],
        ["logout", "ok", 303, "token-2"],
      ]);
      expect(entries[2]?.target).toBe("site");

      // The page is for those who logged in or hold a token, and filters like the API.
      expect((await fetch(`${server.url}/ui/audit`, { redirect: "manual" })).status).toBe(303);
      const audit = await fetch(`${server.url}/ui/audit?actor=token-2`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const html = await audit.text();
      expect(audit.status).toBe(200);
      expect(html.match(/<tr data-id="\d+"/g)).toEqual([
        '<tr data-id="4"',
        '<tr data-id="3"',
        '<tr data-id="2"',
      ]);
      expect(html).toContain('<span class="badge outcome-ok">ok</span>');
      const refused = await fetch(`${server.url}/ui/audit?limit=0`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain(
        "limit must be a whole number from 1 to 1000, got &quot;0&quot;",
      );
    } finally {
      await server.shutdown({ graceMs: 0 });
    }
  });

  it("records personal token creation and revocation with the token's name and id, never the token", async () => {
    const { server, store } = await serve();
    try {
      const ada: Identity = {
        id: "oidc:https://id.example#7",
        kind: "user",
        name: "ada",
        email: "ada@example.com",
        groups: [],
        roles: [],
      };
      // The handler signs sessions with a key derived from its first token.
      const session = new Sessions({ keys: () => [sessionKey(TOKEN)] }).create(ada);
      const post = (path: string, fields: Record<string, string>, headers: Record<string, string>) =>
        fetch(`${server.url}${path}`, {
          method: "POST",
          redirect: "manual",
          headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(fields).toString(),
        });
      const asAda = (path: string, fields: Record<string, string>) =>
        post(path, { csrf: session.csrf, ...fields }, { cookie: `driftless_session=${session.cookie}` });
      expect((await asAda("/ui/tokens", { label: "laptop", expires: "forever" })).status).toBe(400);
      const created = await asAda("/ui/tokens", { label: "laptop", expires: "7d" });
      expect(created.status).toBe(201);
      const token = /<pre id="new-token">([^<]+)<\/pre>/.exec(await created.text())?.[1] ?? "";
      expect(token).toMatch(/^dlpt_/);
      const [made] = await store.personalTokens.listPersonalTokens(ada.id);
      const id = made?.id ?? "";
      expect((await asAda(`/ui/tokens/${id}/revoke`, {})).status).toBe(303);
      expect((await asAda(`/ui/tokens/${id}/revoke`, {})).status).toBe(404);
      // Only a person makes tokens; a form without a session is refused, not redirected.
      expect((await post("/ui/tokens", { label: "x" }, { authorization: `Bearer ${TOKEN}` })).status).toBe(
        403,
      );
      expect((await post("/ui/tokens", { label: "x" }, {})).status).toBe(401);

      const entries = await logOf(store, 6);
      expect(entries.map((e) => [e.action, e.outcome, e.status, e.actor, e.detail])).toEqual([
        [
          "token.create",
          "refused",
          400,
          "ada",
          'expires must be a duration up to 366d such as "30d", got "forever"',
        ],
        ["token.create", "ok", 201, "ada", `token "laptop" (${id})`],
        ["token.revoke", "ok", 303, "ada", `token "laptop" (${id})`],
        ["token.revoke", "refused", 404, "ada", `no active token ${id}`],
        ["token.create", "refused", 403, "token-1", "only a signed-in person has personal tokens"],
        ["token.create", "refused", 401, undefined, "not signed in"],
      ]);
      expect(entries[1]?.actorId).toBe(ada.id);
      expect(JSON.stringify(entries)).not.toContain(token);
      expect(JSON.stringify(entries)).not.toContain(token.slice(-20));
    } finally {
      await server.shutdown({ graceMs: 0 });
    }
  });
});
