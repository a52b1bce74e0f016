// The dashboard in a real headless Chromium against a real reconciler, the real
// engine and a real Git repository: states, live updates from a push, drift
// with its diff, approving exactly the held plan, login/CSRF/logout, inert
// script injection, no secret on any page, and an accessibility check.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DriftlessServer,
  listen,
  Reconciler,
  SqliteStore,
  signBody,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Dashboard,
  horizontalOverflow,
  launchChromium,
  markDocument,
  sameDocument,
  screenshotDir,
  seriousViolations,
  type TestBrowser,
} from "./support/browser.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteAppsSeed, siteAppTarget } from "./support/sitePrograms.js";

const TOKEN = "ui-token-5c2e8d1a";
/** The dashboard's API tokens: a named token, what the dashboard records as who acted after logging in with it. */
const TOKENS = [{ name: "Ada", secret: TOKEN, roles: ["admin"] }];
const HOOK_SECRET = "ui-hook-secret-91b7";
const SECRET_VALUE = "s3cr3t-api-value-ef42";
const PASSPHRASE = "ui-passphrase-7d3a";
const INJECTED_PAGE = "<img src=x onerror=window.__pwned=1>.html";
const INJECTED_SUBJECT = "<script>window.__pwned=2</script> first release";

describe("the dashboard in a real browser", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  /** The audit log the server appends to (logins, actions), shown on /ui/audit. */
  let audit: SqliteStore | undefined;
  let browser: TestBrowser | undefined;
  let context: BrowserContext;
  let page: Page;
  let outDir: string;
  let siteV1: string;
  /** The browser page on the first server's dashboard. */
  let dashboard: Dashboard;

  const pages = (files: Record<string, string>) => JSON.stringify(files);
  const target = (name: string, overrides: Partial<TargetSpec> = {}) =>
    siteAppTarget(name, { repo: repo.fileUrl, outDir, env: sandbox.env, passphrase: PASSPHRASE }, overrides);
  /** The dashboard path of the history page the resources test opened, for the accessibility checks. */
  let historyPath = "";
  const historyUrn = (url: string) =>
    decodeURIComponent(new URL(url).pathname.split("/resources/")[1]?.replace(/\/history$/, "") ?? "");

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-ui-");
    outDir = join(sandbox.dir, "out");
    // drifty's pages under a component, so its resources form a tree: stack → section → pages.
    const seed = siteAppsSeed(
      sandbox.dir,
      {
        site: undefined,
        gated: { "a.html": "a1", "b.html": "b1", "c.html": "c1", "d.html": "d1", "e.html": "e1" },
        drifty: { "about.html": "<p>about</p>", [INJECTED_PAGE]: "x" },
        prod: undefined,
      },
      ["drifty"],
    );
    repo = createRepo(join(sandbox.dir, "repo"), { seed });
    siteV1 = repo.commit({}, INJECTED_SUBJECT);
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        target("site", { secretConfig: { apiToken: SECRET_VALUE } }),
        target("gated", { requireApproval: "destructive" }),
        target("drifty"),
        // Suspended, so they never run on their own: they draw the graph's dependency and
        // promotion edges, and prod is promoted and rolled back by hand.
        target("paused", { dependsOn: ["site"], suspend: true }),
        target("prod", { promote: { from: "site", after: "24h" }, suspend: true }),
      ],
    });
    // Three stacks of their own: applied side by side, each under its own lock.
    const applied = await Promise.all(["site", "gated", "drifty"].map((name) => reconciler.reconcile(name)));
    for (const run of applied) expect(run).toMatchObject({ result: "applied" });
    // Scheduling on: the overview shows each target's next check (quiet checks skip without the engine).
    reconciler.start();
    audit = new SqliteStore(join(sandbox.dir, "audit.db"));
    server = await listen(reconciler, {
      port: 0,
      tokens: TOKENS,
      webhooks: { generic: HOOK_SECRET },
      audit,
    });
    browser = await launchChromium({ width: 1280, height: 900 });
    ({ context, page } = browser);
    dashboard = new Dashboard(page, server.url);
    mkdirSync(screenshotDir(sandbox.dir), { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.shutdown({ graceMs: 1000 });
    await audit?.close();
    sandbox?.dispose();
  });

  it("asks for a login, refuses a wrong token and sets a strict session cookie", async () => {
    await page.goto(dashboard.url("/"));
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await page.fill("#token", "not-the-token");
    await page.click("button[type=submit]");
    await expect(page.locator("[role=alert]").textContent()).resolves.toMatch(/not valid/);
    await page.fill("#token", TOKEN);
    await page.click("main button[type=submit]");
    await page.waitForURL(dashboard.url("/"));
    const [cookie] = await context.cookies(dashboard.url("/"));
    expect(cookie).toMatchObject({
      name: "driftless_session",
      httpOnly: true,
      sameSite: "Strict",
      path: "/ui",
    });
    expect(cookie?.value).not.toContain(TOKEN);
  });

  it("shows every target's state with its reason, revision and commit subject", async () => {
    const response = await dashboard.visit("/");
    expect(response?.headers()["content-security-policy"]).toMatch(/script-src 'self';/);
    const state = (name: string) => dashboard.row(name).getAttribute("data-state");
    expect(await state("site")).toBe("Ready");
    expect(await state("gated")).toBe("Ready");
    expect(await state("paused")).toBe("Suspended");
    expect(await state("prod")).toBe("Suspended");
    await expect(dashboard.row("site").textContent()).resolves.toContain(repo.head().slice(0, 12));
    // The commit subject renders as text; the script in it never ran.
    await expect(dashboard.row("site").locator(".subject").textContent()).resolves.toBe(INJECTED_SUBJECT);
    expect(await page.locator("[data-count=Suspended] .count").textContent()).toBe("2");
    expect(await page.locator("[data-count=Ready] .count").textContent()).toBe("3");
    // The next branch check, then the next drift check (the resync), each relative with a named zone.
    const checks = dashboard.row("site").locator("[data-label='Next check'] time");
    const next = await checks.first().getAttribute("datetime");
    expect(Date.parse(next ?? "")).toBeGreaterThan(Date.now());
    const drift = await checks.nth(1).getAttribute("datetime");
    expect(Date.parse(drift ?? "")).toBeGreaterThanOrEqual(Date.parse(next ?? ""));
    expect(await checks.first().textContent()).toMatch(/^in .+\(.+(UTC|GMT).*\)$/);
    await expect(dashboard.row("site").locator("[data-label='Mode']").textContent()).resolves.toBe("apply");
    await expect(dashboard.row("paused").locator("[data-label='Next check']").textContent()).resolves.toBe(
      "—",
    );
    await page.goto(dashboard.url("/?state=Suspended"));
    expect(await page.locator("tbody tr").count()).toBe(2);
    await page.goto(dashboard.url("/?q=gat"));
    expect(await page.locator("tbody tr").count()).toBe(1);
  });

  it("turns a row Reconciling, then Ready, when a push arrives, without a reload", async () => {
    await dashboard.visit("/");
    await page.waitForSelector("body[data-live=live]");
    await markDocument(page);
    const pushed = repo.commit({ "apps/site/site.json": pages({ "index.html": "<h1>v2</h1>" }) }, "site v2");
    const body = JSON.stringify({ repository: repo.fileUrl, ref: "main", paths: ["apps/site/site.json"] });
    const hook = await fetch(`${server.url}/hooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": signBody(HOOK_SECRET, body) },
      body,
    });
    expect(hook.status).toBe(202);
    await page.waitForSelector("#row-site[data-state=Reconciling]", { timeout: 60_000 });
    await page.waitForSelector(`#row-site[data-state=Ready]:has-text("${pushed.slice(0, 12)}")`, {
      timeout: 120_000,
    });
    expect(await sameDocument(page)).toBe(true);
    await expect(dashboard.row("site").locator(".subject").textContent()).resolves.toBe("site v2");
  });

  it("shows a drifted target's drift and the diff of its run", async () => {
    // The same stack, now only watched: a hand edit is drift, reported and not undone.
    reconciler.addTarget(target("drifty", { mode: "detect", refresh: true }));
    writeFileSync(join(outDir, "drifty", "about.html"), "edited by hand");
    await dashboard.visit("/targets/drifty");
    await page.waitForSelector("body[data-live=live]");
    await page.click("a.button:has-text('Reconcile now')");
    await page.click("button:has-text('Confirm reconcile')");
    await page.waitForSelector("h1 .state-Drifted", { timeout: 120_000 });
    // The Resources section follows too, once the run stored them (`resources.recorded`), without a reload.
    await page.waitForSelector('table.resources tr[data-sync="drifted"]', { timeout: 30_000 });
    const run = (await reconciler.history("drifty", 1))[0];
    expect(run).toMatchObject({ result: "drift-detected", drift: true });
    await dashboard.visit(`/runs/${run?.id}`);
    await expect(page.locator(".drift").textContent()).resolves.toBe("drift found");
    const diff = page.locator("table.plan tr.op-update");
    await expect(diff.locator("th").textContent()).resolves.toBe("about.html");
    // The drift as a property diff: what is live now, and what the revision puts back.
    await expect(diff.locator(".keys code").textContent()).resolves.toBe("content");
    await expect(diff.locator(".keys del").textContent()).resolves.toBe('"edited by hand"');
    await expect(diff.locator(".keys ins").textContent()).resolves.toBe('"<p>about</p>"');
    const steps = await page.locator("ol.steps .step").allTextContents();
    expect(steps).toEqual(expect.arrayContaining(["resolveRevision", "checkout", "preview", "modeResult"]));
    await page.screenshot({ path: join(screenshotDir(sandbox.dir), "ui-run.png"), fullPage: true });
    // The whole stored log, a link away, ends with the steps the page shows.
    const log = await page.request.get(dashboard.url(`/runs/${run?.id}/log`));
    expect(log.status()).toBe(200);
    expect(await log.text()).toMatch(/\[preview\] plan: [\s\S]*\[steps\] resolveRevision( \d+ ms)?[;\n]/);
    expect(readFileSync(join(outDir, "drifty", "about.html"), "utf8")).toBe("edited by hand");
  });

  it("shows the target's resources as a tree, the drifted one with its paths, and a resource's history", async () => {
    await dashboard.visit("/targets/drifty");
    const rows = page.locator("table.resources tbody tr");
    const tree = await rows.evaluateAll((trs) =>
      trs.map((tr) => [
        tr.className,
        tr.querySelector("th")?.textContent,
        tr.querySelector(".badge")?.textContent,
        tr.getAttribute("data-health"),
      ]),
    );
    // The stack, its component and the component's pages beneath it (by name); the default provider has no parent.
    expect(tree.map(([depth, name]) => `${depth} ${name}`)).toEqual([
      "depth-0 site-drifty",
      "depth-1 pages",
      `depth-2 ${INJECTED_PAGE}`,
      "depth-2 about.html",
      "depth-0 default",
    ]);
    expect(tree.map(([, name, sync]) => `${name}: ${sync}`)).toEqual([
      "site-drifty: synced",
      "pages: synced",
      `${INJECTED_PAGE}: synced`,
      "about.html: drifted",
      "default: synced",
    ]);
    expect(new Set(tree.map(([, , , health]) => health))).toEqual(new Set(["Unknown"]));
    const drifted = page.locator('table.resources tr[data-sync="drifted"]');
    await expect(drifted.locator(".paths code").allTextContents()).resolves.toContain("content");
    await expect(page.locator('a[href$="?sync=drifted#h-resources"] .count').textContent()).resolves.toBe(
      "1",
    );
    await page.locator("section[aria-labelledby=h-resources]").screenshot({
      path: join(screenshotDir(sandbox.dir), "ui-resources.png"),
    });
    // A filter is a link: the page from the server, only the drifted row.
    await page.click('a[href$="?sync=drifted#h-resources"]');
    await page.waitForURL(/\?sync=drifted#h-resources$/);
    await expect(rows.locator("th").allTextContents()).resolves.toEqual(["about.html"]);
    dashboard.html.push(await page.content());
    // The resource's history: the drift this run found, the create of the first apply.
    await drifted.locator("th a").click();
    await page.waitForSelector("table.history");
    dashboard.html.push(await page.content());
    historyPath = new URL(page.url()).pathname.replace(/^\/ui/, "");
    const entries = await page
      .locator("table.history tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.querySelector("th a")?.getAttribute("href"),
          tr.querySelector(".op")?.textContent,
          tr.querySelector("td:nth-child(4)")?.textContent,
        ]),
      );
    expect(entries).toEqual([
      [
        expect.stringMatching(/^\/ui\/runs\//),
        "drifted (changed outside Git)",
        expect.stringContaining("content"),
      ],
      [expect.stringMatching(/^\/ui\/runs\//), "created", "the whole resource"],
    ]);
    const api = await page.request.get(
      `${server.url}/targets/drifty/resources/${encodeURIComponent(historyUrn(page.url()))}/history`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    expect(api.status()).toBe(200);
    expect((await api.json()).entries.map((e: { op: string }) => e.op)).toEqual(["drift", "create"]);
  });

  it("approves in the UI exactly the held plan", async () => {
    const v2 = repo.commit(
      { "apps/gated/site.json": pages({ "a.html": "a2", "b.html": "b1", "c.html": "c1", "d.html": "d1" }) },
      "drop e, change a",
    );
    const held = await reconciler.reconcile("gated", { trigger: "webhook" });
    expect(held).toMatchObject({ result: "awaiting-approval", revision: v2 });
    await dashboard.visit("/");
    await expect(dashboard.row("gated").getAttribute("data-state")).resolves.toBe("NotReady");
    await expect(dashboard.row("gated").textContent()).resolves.toMatch(/AwaitingApproval[\s\S]*approval of/);
    await dashboard.visit("/targets/gated");
    await page.click("a.button:has-text('Approve')");
    const shown = await page
      .locator("table.plan tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => [r.querySelector(".op")?.textContent, r.querySelector("th")?.textContent]),
      );
    expect(shown.sort()).toEqual([
      ["delete", "e.html"],
      ["update", "a.html"],
    ]);
    dashboard.html.push(await page.content());
    // No name to fill in: who approves is who logged in.
    expect(await page.locator("#by").count()).toBe(0);
    await page.fill("#reason", "reviewed in the dashboard");
    await page.click("button:has-text('Confirm approve')");
    await page.waitForSelector("h1 .state-Ready", { timeout: 120_000 });
    const applied = (await reconciler.history("gated", 1))[0];
    expect(applied).toMatchObject({
      result: "applied",
      revision: v2,
      approval: { by: "Ada", reason: "reviewed in the dashboard" },
    });
    // The run applied the held plan file (`up --plan`), and its record names that plan.
    expect(applied?.log).toContain(`up with the plan approved from run ${held.id.slice(0, 8)}`);
    expect(applied?.plan).toEqual(held.plan);
    expect(existsSync(join(outDir, "gated", "e.html"))).toBe(false);
    expect(readFileSync(join(outDir, "gated", "a.html"), "utf8")).toBe("a2");
  });

  it("keeps injected markup inert and shows no secret on any page", async () => {
    await dashboard.visit("/targets/drifty");
    await expect(page.locator("#h-outputs + p + pre").textContent()).resolves.toContain(INJECTED_PAGE);
    await dashboard.visit("/targets/site");
    // The graph: paused depends on site, prod is promoted from it.
    await expect(page.locator("figure.graph svg a").count()).resolves.toBe(3);
    await page.screenshot({ path: join(screenshotDir(sandbox.dir), "ui-target.png"), fullPage: true });
    await dashboard.visit(`/runs/${(await reconciler.history("site", 1))[0]?.id}`);
    await dashboard.visit("/");
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    expect(await page.locator("script").count()).toBe(1);
    await page.screenshot({ path: join(screenshotDir(sandbox.dir), "ui-overview.png"), fullPage: true });
    for (const text of dashboard.html) {
      for (const secret of [SECRET_VALUE, TOKEN, PASSPHRASE, HOOK_SECRET]) expect(text).not.toContain(secret);
    }
  });

  it("finds no serious accessibility violation (axe-core)", async () => {
    for (const path of [
      "/",
      "/targets/site",
      "/targets/gated",
      "/targets/drifty",
      historyPath,
      `/runs/${(await reconciler.history("drifty", 1))[0]?.id}`,
      "/audit",
    ]) {
      await dashboard.visit(path);
      expect(await seriousViolations(page), path).toEqual([]);
    }
  });

  it("fits a phone's width without sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const path of [
        "/",
        "/targets/site",
        "/targets/drifty",
        historyPath,
        `/runs/${(await reconciler.history("drifty", 1))[0]?.id}`,
        "/audit",
      ]) {
        await dashboard.visit(path);
        expect(await horizontalOverflow(page), path).toBeLessThanOrEqual(0);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it("suspends and resumes a target with why, and the logged-in identity as who, shown on its page", async () => {
    await dashboard.visit("/targets/site");
    await page.click("a.button:has-text('Suspend')");
    await dashboard.confirm("suspend", "freeze for the audit");
    await expect(page.locator("h1 .badge").textContent()).resolves.toBe("Suspended");
    await expect(page.locator("#suspension").textContent()).resolves.toMatch(/by Ada: freeze for the audit$/);
    expect((await reconciler.status("site")).suspension).toMatchObject({
      suspended: true,
      by: "Ada",
      reason: "freeze for the audit",
    });
    await page.click("a.button:has-text('Resume')");
    await dashboard.confirm("resume", "audit done");
    await expect(page.locator("h1 .badge").textContent()).resolves.toBe("Ready");
    await expect(page.locator("#suspension").textContent()).resolves.toMatch(/by Ada: audit done$/);
    await expect(page.locator("dt:has-text('Resumed')").count()).resolves.toBe(1);
    expect(reconciler.isSuspended("site")).toBe(false);
  });

  it("promotes and rolls back with who and why, listed in the promotions", async () => {
    // prod has applied site's first revision; the dashboard promotes site's latest, then rolls back.
    const first = await (await reconciler.promote("prod", { by: "setup", reason: "start", revision: siteV1 }))
      .done;
    expect(first).toMatchObject({ result: "applied", revision: siteV1 });
    const latest = (await reconciler.status("site")).lastAppliedRevision ?? "";
    expect(latest).not.toBe(siteV1);
    await dashboard.visit("/targets/prod");
    await page.click("a.button:has-text('Promote')");
    await expect(page.locator("main").textContent()).resolves.toMatch(/its upstream site applied/);
    await dashboard.confirm("promote", "ship v2 to prod");
    await expect(page.locator(".notice").textContent()).resolves.toMatch(/^Run \S+ queued\.$/);
    const promotion = page.locator("#h-promotions + table tbody tr").first();
    await expect(promotion.locator("td").allTextContents()).resolves.toEqual([
      expect.any(String),
      "manual",
      "site",
      latest.slice(0, 12),
      "Ada",
      "ship v2 to prod",
    ]);
    await reconciler.whenIdle();
    expect((await reconciler.status("prod")).lastAppliedRevision).toBe(latest);
    await dashboard.visit("/targets/prod");
    await page.click("a.button:has-text('Roll back')");
    await dashboard.confirm("rollback", "v2 breaks the login");
    await expect(promotion.locator("td").allTextContents()).resolves.toEqual([
      expect.any(String),
      "rollback",
      "prod",
      siteV1.slice(0, 12),
      "Ada",
      "v2 breaks the login",
    ]);
    await reconciler.whenIdle();
    expect((await reconciler.status("prod")).lastAppliedRevision).toBe(siteV1);
    expect((await reconciler.promotions("prod", 1))[0]).toMatchObject({ kind: "rollback", by: "Ada" });
  });

  it("keeps the session across a server restart, shows it reconnecting, and catches up without a reload", async () => {
    // Another handler over the same reconciler and config stands for a restarted process:
    // the session cookie from the first one is accepted (signed, held by no server).
    let second = await listen(reconciler, { port: 0, tokens: TOKENS });
    const port = second.port;
    try {
      await page.goto(`${second.url}/ui/targets/drifty`);
      expect(new URL(page.url()).pathname).toBe("/ui/targets/drifty");
      await page.waitForSelector("body[data-live=live]");
      await markDocument(page);
      await second.close();
      await page.waitForSelector("body[data-live=reconnecting]");
      await expect(page.locator("#live-status").textContent()).resolves.toBe("reconnecting");
      // Changed while the page was cut off, with no event it could have seen.
      await reconciler.suspend("drifty", { by: "Ops", reason: "while the server was down" });
      second = await listen(reconciler, { port, tokens: TOKENS });
      await page.waitForSelector("#suspension:has-text('while the server was down')", { timeout: 30_000 });
      await page.waitForSelector("body[data-live=live]");
      expect(await sameDocument(page)).toBe(true);
    } finally {
      await reconciler.resume("drifty");
      await second.close();
    }
  });

  it("refuses a POST without the session's CSRF token, and logs out", async () => {
    const refused = await page.request.post(dashboard.url("/targets/site/suspend"), {
      form: { csrf: "forged" },
    });
    expect(refused.status()).toBe(403);
    const missing = await page.request.post(dashboard.url("/targets/site/suspend"), { form: {} });
    expect(missing.status()).toBe(403);
    expect(reconciler.isSuspended("site")).toBe(false);
    await dashboard.visit("/");
    const [before] = await context.cookies(dashboard.url("/"));
    const replay = () =>
      fetch(dashboard.url("/"), {
        headers: { cookie: `driftless_session=${before?.value}` },
        redirect: "manual",
      });
    expect((await replay()).status).toBe(200);
    await page.click("button:has-text('Log out')");
    await page.waitForURL(/\/ui\/login$/);
    // The session is gone: pages ask for a login again.
    await page.goto(dashboard.url("/targets/site"));
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    const anonymous = await page.request.post(dashboard.url("/targets/site/reconcile"), { form: {} });
    expect(anonymous.status()).toBe(401);
    // A copy of the logged-out cookie is refused too.
    const replayed = await replay();
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe("/ui/login");
    // The audit log kept the forged and anonymous attempts and the logout, each with its outcome.
    await expect
      .poll(async () =>
        ((await audit?.listAudit({ limit: 1000 })) ?? []).map((e) => `${e.action} ${e.outcome} ${e.status}`),
      )
      .toEqual(expect.arrayContaining(["suspend refused 403", "logout ok 303", "reconcile refused 401"]));
  });
});
