// Named tokens of different roles against every mutating route and the reads,
// the dashboard's offers and refusals, and personal tokens, on a real reconciler.
import { mkdtempSync, rmSync } from "node:fs";
import { type ClientRequest, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SourceRef } from "../../git/source.js";
import { Reconciler } from "../../reconciler.js";
import { FakeEngine, FakeSource, planOf } from "../../reconciler.test-support.js";
import { SqliteStore } from "../../store/sqlite/store.js";
import { type DriftlessServer, listen } from "../server.js";
import { Sessions, sessionKey } from "../ui/account/session.js";
import type { Action, Identity } from "./identity.js";
import { tokenIdentity } from "./tokens.js";

/** The dashboard's event stream as a session sees it: the events received so far, by name and target. */
function follow(url: string, cookie: string): Promise<{ events: string[]; req: ClientRequest }> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    let pending = "";
    const req = request(url, { headers: { cookie } }, (res) => {
      expect(res.statusCode).toBe(200);
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        pending += chunk;
        const blocks = pending.split("\n\n");
        pending = blocks.pop() ?? "";
        for (const block of blocks) {
          const name = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (name && name !== "hello" && data) {
            events.push(`${name} ${(JSON.parse(data) as { target: string }).target}`);
          }
        }
      });
      resolve({ events, req });
    });
    req.on("error", reject);
    req.end();
  });
}

/** A source that knows who wrote each commit (the four-eyes check asks). */
class AuthoredSource extends FakeSource {
  author = "dev@example.com";
  async commitEmails(_source: SourceRef, _revision: string): Promise<readonly string[]> {
    return [this.author];
  }
}

const MUTATING: readonly Action[] = [
  "reconcile",
  "approve",
  "preview",
  "promote",
  "rollback",
  "suspend",
  "resume",
];

describe("who may do what over HTTP", () => {
  let dir: string;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let store: SqliteStore;
  const engine = new FakeEngine();
  const source = new AuthoredSource();
  const sessions = new Sessions({ keys: () => [sessionKey("session-secret")] });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-authz-"));
    store = new SqliteStore(join(dir, "driftless.db"));
    const target = { repo: "https://example.com/infra.git", path: ".", passphrase: "p", interval: "1h" };
    reconciler = await Reconciler.create({
      dataDir: dir,
      store,
      engine,
      source,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        { ...target, name: "staging-web", stack: "staging" },
        {
          ...target,
          name: "prod-web",
          stack: "prod",
          requireApproval: true,
          approval: { distinctFromAuthor: true },
          promote: { from: "staging-web" },
        },
      ],
    });
    server = await listen(reconciler, {
      port: 0,
      tokens: [
        { name: "viewer", secret: "viewer-token", roles: ["reader"] },
        { name: "ci-deployer", secret: "ci-token" },
        { name: "approver", secret: "approver-token", roles: ["approver"] },
        { name: "ops", secret: "ops-token", roles: ["admin"] },
      ],
      policy: {
        roles: {
          deployer: [{ actions: ["read", "reconcile", "preview", "promote"], targets: ["staging-*"] }],
          approver: [
            {
              actions: ["read", "reconcile", "approve", "rollback", "suspend", "resume"],
              targets: ["prod-*"],
            },
          ],
        },
        bindings: [
          { role: "deployer", tokens: ["ci-deployer"] },
          { role: "approver", groups: ["platform"] },
        ],
        defaultRole: "reader",
      },
      personalTokens: store.personalTokens,
      sessions: { secret: "session-secret" },
    });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 0 });
    await reconciler?.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (path: string, token: string | undefined, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

  it("refuses every mutating route to a reader, naming the token, action and target", async () => {
    for (const action of MUTATING) {
      const res = await call(`/targets/prod-web/${action}`, "viewer-token", { reason: "r", ref: "main" });
      expect(res.status, action).toBe(403);
      expect(await errorOf(res)).toBe(
        `token viewer may not ${action} prod-web (needs ${action} on prod-web)`,
      );
    }
  });

  it("lets a deployer act on staging but on no production target", async () => {
    for (const action of MUTATING) {
      const res = await call(`/targets/prod-web/${action}`, "ci-token", { reason: "r", ref: "main" });
      expect(res.status, action).toBe(403);
      expect(await errorOf(res)).toContain(`token ci-deployer may not ${action} prod-web`);
    }
    const run = await call("/targets/staging-web/reconcile", "ci-token", {});
    expect(run.status).toBe(202);
    await reconciler.whenIdle();
    for (const action of ["approve", "suspend", "resume", "rollback"] as const) {
      expect((await call(`/targets/staging-web/${action}`, "ci-token", { reason: "r" })).status, action).toBe(
        403,
      );
    }
  });

  it("lets an approver suspend and resume production, recording the token's name, and refuses a body's `by`", async () => {
    const suspended = await call("/targets/prod-web/suspend", "approver-token", { reason: "freeze" });
    expect(suspended.status).toBe(200);
    expect(await suspended.json()).toMatchObject({
      suspension: { suspended: true, by: "approver", reason: "freeze" },
    });
    const named = await call("/targets/prod-web/resume", "approver-token", { by: "mallory", reason: "thaw" });
    expect(named.status).toBe(400);
    expect(await errorOf(named)).toBe(
      'by is taken from who you are (token approver); only an admin may name another person, got "mallory"',
    );
    const forAda = await call("/targets/prod-web/resume", "ops-token", { by: "ada", reason: "thaw" });
    expect(await forAda.json()).toMatchObject({
      suspension: { suspended: false, by: "ops", onBehalfOf: "ada" },
    });
  });

  it("shows each identity only the targets it may read", async () => {
    const names = async (token: string) =>
      (((await (await call("/targets", token)).json()) as { targets: { name: string }[] }).targets ?? []).map(
        (t) => t.name,
      );
    expect(await names("ci-token")).toEqual(["staging-web"]);
    expect(await names("approver-token")).toEqual(["prod-web"]);
    expect(await names("viewer-token")).toEqual(["staging-web", "prod-web"]);
    const hidden = await call("/targets/prod-web/runs", "ci-token");
    expect(hidden.status).toBe(403);
    const runs = (await reconciler.history("staging-web", 1))[0];
    expect((await call(`/runs/${runs?.id}`, "approver-token")).status).toBe(403);
    expect((await call(`/runs/${runs?.id}`, "ci-token")).status).toBe(200);
    expect((await call(`/runs/${runs?.id}/log`, "approver-token")).status).toBe(403);
    const unknown = await call("/targets", "no-such-token");
    expect(unknown.status).toBe(401);
    expect(await errorOf(unknown)).toBe("that bearer token is not valid");
  });

  it("refuses an approval by the held revision's author (four eyes), and lets another approve it", async () => {
    engine.plan = planOf(1, ["update", "x:y:Page"]);
    const held = await reconciler.reconcile("prod-web", { trigger: "manual" });
    expect(held.result).toBe("awaiting-approval");
    source.author = "ops@example.com";
    const author: Identity = {
      id: "oidc:https://id.example#ops",
      kind: "user",
      name: "Olga",
      email: "OPS@example.com",
      groups: ["platform"],
      roles: [],
    };
    const cookie = `driftless_session=${sessions.create(author).cookie}`;
    const session = await sessions.get({ headers: { cookie } } as never);
    const form = (fields: Record<string, string>) =>
      fetch(`${server.url}/ui/targets/prod-web/approve`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: session?.csrf ?? "", ...fields }).toString(),
      });
    const refused = await form({ reason: "mine" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain(
      "user Olga wrote " + held.revision?.slice(0, 7) + " and may not approve it",
    );
    // A token has no email: only the author is refused, and the approver token did not write it.
    const approved = await call("/targets/prod-web/approve", "approver-token", { reason: "reviewed" });
    expect(approved.status).toBe(202);
    expect(await approved.json()).toMatchObject({ by: "approver" });
    const applied = await reconciler.whenIdle().then(() => reconciler.history("prod-web", 1));
    // The same revision, so the engine reports the approved change as drift corrected: applied either way.
    expect(applied[0]).toMatchObject({
      result: "drift-corrected",
      approval: { by: "approver", reason: "reviewed" },
    });
    expect(engine.calls.at(-1)?.op).toBe("up");
  });

  it("refuses an approval by the identity that asked for the run that made the plan", async () => {
    const requested = await call("/targets/prod-web/reconcile", "approver-token", {});
    expect(requested.status).toBe(202);
    await reconciler.whenIdle();
    const held = (await reconciler.status("prod-web")).awaitingApproval;
    expect(held?.requestedBy).toEqual(["token:approver"]);
    const own = await call("/targets/prod-web/approve", "approver-token", { reason: "mine" });
    expect(own.status).toBe(403);
    expect(await errorOf(own)).toBe(
      `token approver asked for the run that made this plan of ${held?.revision.slice(0, 7)} and may not approve it: prod-web needs another person's approval (approval.distinctFromAuthor)`,
    );
    const other = await call("/targets/prod-web/approve", "ops-token", { reason: "reviewed" });
    expect(other.status).toBe(202);
    await reconciler.whenIdle();
    expect((await reconciler.status("prod-web")).awaitingApproval).toBeUndefined();
  });

  it("offers in the dashboard only what the user may do, and refuses the rest with the permission", async () => {
    const page = async (identity: Identity) => {
      const cookie = `driftless_session=${sessions.create(identity).cookie}`;
      return (await fetch(`${server.url}/ui/targets/prod-web`, { headers: { cookie } })).text();
    };
    const reader: Identity = {
      id: "oidc:x#r",
      kind: "user",
      name: "Rita",
      email: "r@example.com",
      groups: [],
      roles: [],
    };
    const approver: Identity = { ...reader, id: "oidc:x#a", name: "Abe", groups: ["platform"] };
    expect(await page(reader)).not.toContain("Suspend…");
    expect(await page(reader)).not.toContain("Reconcile now");
    expect(await page(reader)).not.toContain("Promote…");
    expect(await page(approver)).toContain("Suspend…");
    expect(await page(approver)).not.toContain("Promote…");
    const cookie = `driftless_session=${sessions.create(reader).cookie}`;
    const refused = await fetch(`${server.url}/ui/targets/prod-web/suspend`, { headers: { cookie } });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("user Rita may not suspend prod-web (needs suspend on prod-web)");
    const posted = await fetch(`${server.url}/ui/targets/prod-web/approve`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: "reason=x",
    });
    expect(posted.status).toBe(403);
    expect(await posted.text()).toContain("user Rita may not approve prod-web (needs approve on prod-web)");
  });

  it("lets a signed-in user create a personal token that acts as them, shown once, until revoked", async () => {
    const abe: Identity = {
      id: "oidc:x#abe",
      kind: "user",
      name: "Abe",
      email: "abe@example.com",
      groups: ["platform"],
      roles: [],
    };
    const made = sessions.create(abe);
    const cookie = `driftless_session=${made.cookie}`;
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: made.csrf, ...fields }).toString(),
      });
    const bad = await post("/ui/tokens", { label: "laptop", expires: "forever" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("expires must be a duration up to 366d");
    const created = await post("/ui/tokens", { label: "laptop", expires: "7d" });
    expect(created.status).toBe(201);
    const token = /<pre id="new-token">([^<]+)<\/pre>/.exec(await created.text())?.[1] ?? "";
    expect(token).toMatch(/^dlpt_/);
    // Shown once: the list shows its name, never the token again.
    const list = await (await fetch(`${server.url}/ui/tokens`, { headers: { cookie } })).text();
    expect(list).toContain("laptop");
    expect(list).not.toContain(token);
    // It acts as Abe with Abe's roles: approver on prod-*, reader by default.
    const suspended = await call("/targets/prod-web/suspend", token, { reason: "from my laptop" });
    expect(await suspended.json()).toMatchObject({ suspension: { by: "Abe" } });
    expect((await call("/targets/staging-web/reconcile", token, {})).status).toBe(403);
    await call("/targets/prod-web/resume", token, { reason: "done" });
    const [row] = await store.personalTokens.listPersonalTokens(abe.id);
    expect(row?.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(token.slice(18));
    // A token may not mint tokens.
    const viaToken = await fetch(`${server.url}/ui/tokens`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(viaToken.status).toBe(403);
    expect(await viaToken.text()).toContain("Only a signed-in person has personal tokens");
    const revoked = await post(`/ui/tokens/${row?.id}/revoke`, {});
    expect(revoked.status).toBe(303);
    const after = await call("/targets", token);
    expect(after.status).toBe(401);
    expect(await errorOf(after)).toBe("that bearer token is not valid");
  });

  it("keeps a token login's identity in the dashboard session", async () => {
    const login = await fetch(`${server.url}/ui/login`);
    const anonymous = /driftless_session=([^;]+)/.exec(login.headers.get("set-cookie") ?? "")?.[1] ?? "";
    const csrf = /name="csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? "";
    const res = await fetch(`${server.url}/ui/login`, {
      method: "POST",
      redirect: "manual",
      headers: {
        cookie: `driftless_session=${anonymous}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ csrf, token: "ci-token" }).toString(),
    });
    expect(res.status).toBe(303);
    const cookie = /driftless_session=[^;]+/.exec(res.headers.get("set-cookie") ?? "")?.[0] ?? "";
    const overview = await (await fetch(`${server.url}/ui`, { headers: { cookie } })).text();
    expect(overview).toContain("ci-deployer");
    expect(overview).toContain("staging-web");
    expect(overview).not.toContain("prod-web");
  });

  it("sends each session live updates of only the targets it may read", async () => {
    // A token's session carries which token it was made with.
    const cookieOf = (identity: Identity, token?: string) =>
      `driftless_session=${sessions.create(identity, undefined, token).cookie}`;
    // The deployer reads staging-*, the approver prod-*; a signed-in user reads all (defaultRole).
    const deployer = await follow(
      `${server.url}/ui/events`,
      cookieOf(tokenIdentity({ name: "ci-deployer", secret: "ci-token" }), "ci-token"),
    );
    const approver = await follow(
      `${server.url}/ui/events`,
      cookieOf(
        tokenIdentity({ name: "approver", secret: "approver-token", roles: ["approver"] }),
        "approver-token",
      ),
    );
    const rita = await follow(
      `${server.url}/ui/events`,
      cookieOf({ id: "oidc:x#rita", kind: "user", name: "Rita", groups: [], roles: [] }),
    );
    try {
      engine.plan = planOf(1);
      // A target's events before and after the other's: each stream keeps its order.
      for (const name of ["staging-web", "prod-web", "staging-web", "prod-web"]) {
        await reconciler.reconcile(name, { trigger: "manual" });
      }
      const finished = (events: string[], target: string) =>
        events.filter((e) => e === `run.finished ${target}`).length;
      await vi.waitFor(() => {
        expect(finished(deployer.events, "staging-web")).toBe(2);
        expect(finished(approver.events, "prod-web")).toBe(2);
        expect(finished(rita.events, "prod-web")).toBe(2);
      });
      expect(deployer.events.filter((e) => !e.endsWith(" staging-web"))).toEqual([]);
      expect(approver.events.filter((e) => !e.endsWith(" prod-web"))).toEqual([]);
      expect(finished(rita.events, "staging-web")).toBe(2);
    } finally {
      for (const stream of [deployer, approver, rita]) stream.req.destroy();
    }
  });
});
