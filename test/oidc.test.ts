// Single sign-on for the dashboard, end to end: a real Gitea is the OpenID
// Connect provider (an organisation, a team `platform` with one user, another
// user in no team), a real reconciler with the real engine serves the
// dashboard, and a real Chromium signs in through Gitea's own login page.
// Each user's identity and groups are shown; the policy binds the team's group
// to a role that may reconcile and approve the target, everyone else reads:
// the team member queues a run from the dashboard, the other is offered
// nothing and refused with the permission; logout ends the session; a forged
// state, a forged nonce and a replayed authorization code are refused with a
// clear page; sign-ins and refusals are in the audit log. (Forged and expired
// ID tokens, and a provider that is down:
// packages/gitops/src/http/auth/oidc/oidc.test.ts.)
import { cpSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { type DriftlessServer, listen, Reconciler, type ServeOptions, SqliteStore } from "@driftless/gitops";
import { pino } from "pino";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { seriousViolations } from "./support/browser.js";
import { launchBrowser } from "./support/chromium.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo } from "./support/git.js";
import { type Gitea, startGitea } from "./support/gitea.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const ORG = "acme";
const CLIENT_SECRET_ENV = "DRIFTLESS_TEST_OIDC_SECRET";
const PASSWORD = "Us3r-password-for-oidc";

/** The users and what the dashboard must show of each: their groups, and the actions it offers on `site`. */
const USERS = [
  {
    name: "alice",
    email: "alice@example.com",
    team: "platform",
    groups: [ORG, `${ORG}:platform`],
    offered: ["Reconcile now"],
  },
  { name: "bob", email: "bob@example.com", team: undefined, groups: [], offered: [] },
] as const;

describe("single sign-on through Gitea in a real browser", () => {
  let sandbox: EngineSandbox;
  let gitea: Gitea;
  let reconciler: Reconciler;
  let store: SqliteStore;
  let server: DriftlessServer;
  let browser: Browser;
  const contexts = new Map<string, BrowserContext>();

  /**
   * The options the dashboard is served with: Gitea's team `platform` (group
   * `acme:platform`) may reconcile and approve `site` (but not suspend it),
   * every other signed-in user reads; the audit log is the reconciler's store.
   */
  const serverOptions = (clientId: string): ServeOptions => ({
    port: 0,
    oidc: { issuer: gitea.url, clientId, clientSecret: { env: CLIENT_SECRET_ENV }, name: "Gitea" },
    policy: {
      roles: { operator: [{ actions: ["read", "reconcile", "approve"], targets: ["site"] }] },
      bindings: [{ role: "operator", groups: [`${ORG}:platform`] }],
      defaultRole: "reader",
    },
    audit: store,
  });
  /** The audit log, oldest first, once `ready` holds for it (appends finish after the replies). */
  const auditLog = (ready: (entries: Awaited<ReturnType<SqliteStore["listAudit"]>>) => boolean) =>
    vi.waitFor(
      async () => {
        const entries = (await store.listAudit({ limit: 1000 })).reverse();
        expect(ready(entries), JSON.stringify(entries, null, 1)).toBe(true);
        return entries;
      },
      { timeout: 10_000 },
    );
  const ui = (path = "") => `${server.url}/ui${path}`;

  /** Signs in through Gitea's own login page, in the user's own browser context. */
  const signIn = async (user: (typeof USERS)[number]): Promise<Page> => {
    const context = await browser.newContext();
    contexts.set(user.name, context);
    const page = await context.newPage();
    await page.goto(ui("/"));
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await page.click("#sign-in");
    // Gitea's login form (unstyled without its built frontend, a plain form all the same).
    await page.waitForURL(`${gitea.url}/user/login**`);
    await page.fill("input[name=user_name]", user.name);
    await page.fill("input[name=password]", PASSWORD);
    await page.press("input[name=password]", "Enter");
    // Gitea asks once per user and application: "Authorize "driftless" to access your account?"
    await page.waitForURL(
      (url) => url.pathname === "/login/oauth/authorize" || url.pathname.startsWith("/ui/"),
    );
    if (page.url().startsWith(`${gitea.url}/login/oauth/authorize`)) {
      await page.click("button:has-text('Authorize Application')");
    }
    try {
      await page.waitForURL(ui("/"), { timeout: 20_000 });
    } catch (error) {
      throw new Error(
        `${user.name} did not come back signed in, at ${page.url()}:\n${(await page.locator("body").innerText()).slice(0, 1500)}`,
        { cause: error },
      );
    }
    return page;
  };

  /** Gitea with the organisation, its team, the two users and the dashboard's OAuth2 application. */
  const startProvider = async (): Promise<{ id: number; client_id: string }> => {
    gitea = await startGitea(join(sandbox.dir, "gitea"), ORG, "infra");
    const team = await gitea.api<{ id: number }>("POST", `/orgs/${ORG}/teams`, {
      name: "platform",
      permission: "read",
      units: ["repo.code"],
    });
    for (const user of USERS) {
      await gitea.api("POST", "/admin/users", {
        username: user.name,
        email: user.email,
        password: PASSWORD,
        must_change_password: false,
      });
      if (user.team) await gitea.api("PUT", `/teams/${team.id}/members/${user.name}`);
    }
    return gitea.api<{ id: number; client_id: string }>("POST", "/user/applications/oauth2", {
      name: "driftless",
      redirect_uris: ["http://127.0.0.1/placeholder"],
      confidential_client: true,
      skip_secondary_authorization: true,
    });
  };

  /** A real reconciler and engine: one small program applied, shown to whoever signs in. */
  const applySite = async () => {
    const seed = mkdtempSync(join(sandbox.dir, "seed-"));
    cpSync(siteProgramSeed(sandbox.dir), join(seed, "apps", "site"), { recursive: true });
    const repo = createRepo(join(sandbox.dir, "repo"), { seed });
    repo.commit({}, "first release");
    store = new SqliteStore(join(sandbox.dir, "driftless.db"));
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      store,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        {
          name: "site",
          repo: repo.fileUrl,
          ref: "main",
          path: "apps/site",
          stack: "site",
          passphrase: "oidc-passphrase",
          config: { outDir: join(sandbox.dir, "out") },
          env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
          interval: "1h",
          refresh: false,
        },
      ],
    });
    expect(await reconciler.reconcile("site")).toMatchObject({ result: "applied" });
  };

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-oidc-");
    // Side by side: the engine's first run, Gitea's start and Chromium's.
    const [, , app] = await Promise.all([
      applySite(),
      launchBrowser().then((b) => {
        browser = b;
      }),
      startProvider(),
    ]);
    server = await listen(reconciler, serverOptions(app.client_id));
    // The callback URL is known once the dashboard listens (Gitea issues a new secret on every update).
    const updated = await gitea.api<{ client_secret: string }>(
      "PATCH",
      `/user/applications/oauth2/${app.id}`,
      {
        name: "driftless",
        redirect_uris: [`${server.url}/ui/auth/callback`],
        confidential_client: true,
        skip_secondary_authorization: true,
      },
    );
    process.env[CLIENT_SECRET_ENV] = updated.client_secret;
  });

  afterAll(async () => {
    for (const context of contexts.values()) await context.close();
    await browser?.close();
    // Without a server (a setup that failed), the reconciler is stopped on its own.
    if (server) await server.shutdown({ graceMs: 1000 });
    else await reconciler?.stop({ graceMs: 0 });
    await gitea?.stop();
    delete process.env[CLIENT_SECRET_ENV];
    sandbox?.dispose();
  });

  it("signs in as each user through Gitea's login page, showing who and which groups", async () => {
    for (const user of USERS) {
      const page = await signIn(user);
      await expect(page.locator("#signed-in-as").textContent()).resolves.toBe(user.name);
      // What each can see: the target the real engine applied.
      await expect(page.locator("#row-site").getAttribute("data-state")).resolves.toBe("Ready");
      await page.click("#signed-in-as");
      await expect(page.locator("#me-name").textContent()).resolves.toBe(user.name);
      await expect(page.locator("#me-email").textContent()).resolves.toBe(user.email);
      await expect(page.locator("#me-kind").textContent()).resolves.toBe("user");
      await expect(page.locator("#me-id").textContent()).resolves.toMatch(
        new RegExp(`^oidc:${gitea.url}#\\d+$`),
      );
      const groups = await page.locator("#me-groups li").allTextContents();
      expect(groups.sort()).toEqual([...user.groups].sort());
      expect(await seriousViolations(page), "/ui/me").toEqual([]);
      const [session] = (await contexts.get(user.name)?.cookies(ui("/")))?.filter(
        (c) => c.name === "driftless_session",
      ) ?? [undefined];
      expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    }
  });

  it("offers each user the actions of their roles: the team member queues a run, the other is refused", async () => {
    const pageOf = (name: string) => (contexts.get(name) as BrowserContext).pages()[0] as Page;
    for (const user of USERS) {
      const page = pageOf(user.name);
      await page.goto(ui("/targets/site"));
      await expect(page.locator("h1").textContent()).resolves.toMatch(/^site /);
      expect(await page.locator("ul.actions a").allTextContents(), user.name).toEqual([...user.offered]);
    }
    const alice = pageOf("alice");
    await alice.click("ul.actions a:has-text('Reconcile now')");
    await alice.click("button:has-text('Confirm reconcile')");
    await alice.waitForURL((url) => url.pathname === "/ui/targets/site" && url.searchParams.has("queued"));
    const runId = new URL(alice.url()).searchParams.get("queued") ?? "";
    await expect(alice.locator(".notice[role=status]").textContent()).resolves.toBe(`Run ${runId} queued.`);
    await reconciler.whenIdle();
    expect(await reconciler.run(runId)).toMatchObject({ target: "site", trigger: "manual" });

    // Bob reads the page but may not act: the form sent anyway, with his session's CSRF token, is refused.
    const bob = pageOf("bob");
    const csrf = (await bob.locator("input[name=csrf]").first().getAttribute("value")) ?? "";
    expect(csrf).not.toBe("");
    const refused = await bob.request.post(ui("/targets/site/reconcile"), {
      form: { csrf },
      maxRedirects: 0,
    });
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain("user bob may not reconcile site (needs reconcile on site)");

    const entries = await auditLog((log) => log.some((e) => e.actor === "bob" && e.status === 403));
    const idOf = new RegExp(`^oidc:${gitea.url.replace(/[.]/g, "\\.")}#\\d+$`);
    for (const name of ["alice", "bob"]) {
      const login = entries.find((e) => e.action === "login" && e.actor === name);
      expect(login, name).toMatchObject({ outcome: "ok", status: 200, detail: "signed in with Gitea" });
      expect(login?.actorId).toMatch(idOf);
    }
    expect(entries.filter((e) => e.action === "reconcile")).toMatchObject([
      { actor: "alice", target: "site", outcome: "ok", status: 303 },
      {
        actor: "bob",
        target: "site",
        outcome: "refused",
        status: 403,
        detail: "user bob may not reconcile site (needs reconcile on site)",
      },
    ]);
  });

  it("ends the session at logout: the old cookie is refused afterwards", async () => {
    const context = contexts.get("bob") as BrowserContext;
    const page = context.pages()[0] as Page;
    await page.goto(ui("/"));
    const cookie = (await context.cookies(ui("/"))).find((c) => c.name === "driftless_session");
    expect(cookie).toBeDefined();
    await page.click("button:has-text('Log out')");
    await page.waitForLoadState();
    await page.goto(ui("/"));
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await expect(page.locator("#sign-in").textContent()).resolves.toBe("Sign in with Gitea");
    expect(await seriousViolations(page), "/ui/login").toEqual([]);
    // A copy of the cookie kept from before the logout opens nothing.
    const replayed = await fetch(ui("/"), {
      redirect: "manual",
      headers: { cookie: `driftless_session=${cookie?.value}` },
    });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe("/ui/login");
  });

  /** Starts a sign-in in alice's browser (signed in at Gitea already) and returns the provider URL it sends to. */
  const started = async (page: Page): Promise<URL> => {
    // The browser context's own request client: the sealed sign-in cookie lands in its jar.
    const start = await page.request.get(ui("/auth/start"), { maxRedirects: 0 });
    expect(start.status()).toBe(303);
    return new URL(start.headers().location ?? "");
  };

  it("refuses a callback whose state is not the one this browser sent", async () => {
    const page = (contexts.get("alice") as BrowserContext).pages()[0] as Page;
    const authorize = await started(page);
    authorize.searchParams.set("state", "forged-state-0123456789");
    const response = await page.goto(authorize.href);
    expect(new URL(page.url()).pathname).toBe("/ui/auth/callback");
    expect(response?.status()).toBe(400);
    await expect(page.locator("[role=alert]").textContent()).resolves.toMatch(
      /^Sign-in failed: The callback's state is not the one this browser's sign-in sent/,
    );
  });

  it("refuses an ID token whose nonce is not the one this sign-in sent", async () => {
    const page = (contexts.get("alice") as BrowserContext).pages()[0] as Page;
    const authorize = await started(page);
    // Gitea puts the nonce it was given into the ID token it signs.
    authorize.searchParams.set("nonce", "another-sign-ins-nonce");
    const response = await page.goto(authorize.href);
    expect(response?.status()).toBe(401);
    await expect(page.locator("[role=alert]").textContent()).resolves.toMatch(
      /^Sign-in failed: The ID token's nonce is not the one this sign-in sent/,
    );
  });

  it("refuses an authorization code used a second time (Gitea refuses the exchange)", async () => {
    const page = (contexts.get("alice") as BrowserContext).pages()[0] as Page;
    const callbacks: string[] = [];
    page.on("request", (request) => {
      if (request.url().startsWith(ui("/auth/callback"))) callbacks.push(request.url());
    });
    await page.goto((await started(page)).href);
    await page.waitForURL(ui("/"));
    expect(callbacks).toHaveLength(1);
    // The same callback again, with the sign-in cookie still in the browser: state and PKCE match, the code is spent.
    const response = await page.goto(callbacks[0] as string);
    expect(response?.status()).toBe(401);
    await expect(page.locator("[role=alert]").textContent()).resolves.toMatch(
      /^Sign-in failed: The identity provider refused the authorization code: \w+ \(.+\)\. A code works once and for minutes only; sign in again\.$/,
    );
    // The three refused callbacks of these tests are in the audit log as refused logins, with why.
    const isRefusedLogin = (e: { action: string; outcome: string }) =>
      e.action === "login" && e.outcome === "refused";
    const refusedLogins = (await auditLog((log) => log.filter(isRefusedLogin).length >= 3)).filter(
      isRefusedLogin,
    );
    expect(refusedLogins.map((e) => e.status)).toEqual([400, 401, 401]);
    expect(refusedLogins.map((e) => e.detail)).toEqual([
      expect.stringMatching(/^Sign-in failed: The callback's state is not the one/),
      expect.stringMatching(/^Sign-in failed: The ID token's nonce is not the one/),
      expect.stringMatching(/^Sign-in failed: The identity provider refused the authorization code/),
    ]);
  });
});
