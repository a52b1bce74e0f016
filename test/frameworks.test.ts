// The HTTP handler inside real express, fastify and hono apps, each set up as
// the README says: a signed webhook is verified against the exact bytes even
// where the framework parses JSON itself, and without the raw bytes the answer
// says what to change instead of "aborted"; the dashboard keeps the mount path
// in its redirects, links, assets and cookie (in Chromium under express).
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHandler, type DriftlessHandler, Reconciler, signBody } from "@driftless/gitops";
import { type HttpBindings, serve as honoServe } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { pino } from "pino";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SECRET = "framework-webhook-secret";
const TOKEN = "framework-api-token";

type WithRawBody = IncomingMessage & { rawBody?: unknown };

describe("the handler mounted in web frameworks", () => {
  let dir: string;
  let reconciler: Reconciler;
  const closers: (() => Promise<unknown> | unknown)[] = [];

  const handler = (prefix?: string): DriftlessHandler =>
    createHandler(reconciler, {
      webhooks: { generic: SECRET },
      tokens: [TOKEN],
      ...(prefix ? { prefix } : {}),
    });

  const listening = async (server: Server): Promise<string> => {
    if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/driftless`;
  };

  /** An express app with a global JSON parser, keeping the raw bytes or not. */
  const expressApp = (keepRaw: boolean): Promise<string> => {
    const app = express();
    app.use(
      keepRaw
        ? express.json({
            verify: (req, _res, buf) => {
              (req as WithRawBody).rawBody = buf;
            },
          })
        : express.json(),
    );
    app.use("/driftless", handler());
    return listening(app.listen(0, "127.0.0.1"));
  };

  const error = async (res: Response) => ((await res.json()) as { error: string }).error;
  const body = JSON.stringify({ repository: "https://example.com/elsewhere.git", ref: "main" });
  const push = (url: string, secret = SECRET) =>
    fetch(`${url}/hooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": signBody(secret, body) },
      body,
    });
  /**
   * A control route with a body it refuses: the refusal quotes the body, so it
   * shows the body arrived (a lost body would read as `{}` and go on to the
   * promotion, which this target has no policy for). No run starts either way.
   */
  const promote = (url: string) =>
    fetch(`${url}/targets/site/promote`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: "[1]",
    });
  const bodyArrived = async (res: Response) => {
    expect(res.status).toBe(400);
    expect(await error(res)).toContain("must be a JSON object with");
  };
  /** The dashboard under `/driftless`: its redirect, form, links, assets and cookie keep the mount path. */
  const dashboardKeepsMount = async (url: string) => {
    const entry = await fetch(`${url}/ui`, { redirect: "manual" });
    expect(entry.status).toBe(303);
    expect(entry.headers.get("location")).toBe("/driftless/ui/login");
    const login = await fetch(`${url}/ui/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get("set-cookie")).toMatch(/; Path=\/driftless\/ui;/);
    const page = await login.text();
    expect(page).toContain('action="/driftless/ui/login"');
    expect(page).toContain('href="/driftless/ui/assets/app.css"');
    expect(page).toContain('src="/driftless/ui/assets/app.js"');
    expect(page).not.toMatch(/(href|src|action)="\/ui\//);
    const css = await fetch(`${url}/ui/assets/app.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-frameworks-"));
    // Never started: no run, no engine; the target only makes the control route reachable.
    reconciler = await Reconciler.create({
      dataDir: dir,
      logger: pino({ level: "silent" }),
      targets: [{ name: "site", repo: "https://example.com/infra.git", stack: "dev", passphrase: "unused" }],
    });
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await reconciler?.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  it("express: verifies a signed webhook against req.rawBody after express.json()", async () => {
    const url = await expressApp(true);
    expect((await push(url)).status).toBe(202);
    expect((await push(url, "wrong-secret")).status).toBe(401);
    await bodyArrived(await promote(url));
    await dashboardKeepsMount(url);
  });

  it("express: the dashboard under app.use's mount path, in Chromium", async () => {
    const url = await expressApp(true);
    const profile = mkdtempSync(join(tmpdir(), "driftless-frameworks-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
    // Closed before the server: the overview's event stream would hold it open.
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${url}/ui`);
      expect(new URL(page.url()).pathname).toBe("/driftless/ui/login");
      await page.fill("#token", TOKEN);
      await page.click("button[type=submit]");
      await page.waitForURL(/\/driftless\/ui\/$/);
      // The stylesheet came from under the mount path: the page is styled.
      expect(await page.evaluate("document.styleSheets.length")).toBeGreaterThan(0);
      const [cookie] = await context.cookies();
      expect(cookie?.path).toBe("/driftless/ui");
      await page.click('a[href="/driftless/ui/targets/site"]');
      await page.waitForURL(/\/driftless\/ui\/targets\/site$/);
      expect(await page.textContent("h1")).toContain("site");
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it("express: says how to fix the app when express.json() kept no raw bytes", async () => {
    const url = await expressApp(false);
    const res = await push(url);
    expect(res.status).toBe(400);
    const message = await error(res);
    expect(message).toContain("already read by a body parser");
    expect(message).toContain("req.rawBody");
    // A control route would otherwise lose its body silently and act on defaults.
    const control = await promote(url);
    expect(control.status).toBe(400);
    expect(await error(control)).toContain("already read by a body parser");
  });

  it("fastify: a route in its own plugin keeps the bytes and passes them on", async () => {
    const app = Fastify();
    const driftless = handler("/driftless");
    await app.register(async (scope) => {
      scope.removeContentTypeParser("application/json");
      scope.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, raw, done) =>
        done(null, raw),
      );
      scope.all("/driftless/*", (req, reply) => {
        (req.raw as WithRawBody).rawBody = req.body;
        reply.hijack();
        driftless(req.raw, reply.raw);
      });
    });
    // Outside the plugin, JSON is parsed as usual.
    app.post("/echo", async (req) => req.body);
    await app.listen({ port: 0, host: "127.0.0.1" });
    closers.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/driftless`;
    expect((await push(url)).status).toBe(202);
    expect((await push(url, "wrong-secret")).status).toBe(401);
    await bodyArrived(await promote(url));
    await dashboardKeepsMount(url);
    const echo = await fetch(url.replace("/driftless", "/echo"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect(await echo.json()).toEqual({ a: 1 });
  });

  it("hono: the node request goes to the handler unread", async () => {
    const app = new Hono<{ Bindings: HttpBindings }>();
    const driftless = handler("/driftless");
    app.all("/driftless/*", (c) => {
      driftless(c.env.incoming, c.env.outgoing);
      return RESPONSE_ALREADY_SENT;
    });
    const url = await listening(honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server);
    expect((await push(url)).status).toBe(202);
    expect((await push(url, "wrong-secret")).status).toBe(401);
    await bodyArrived(await promote(url));
    await dashboardKeepsMount(url);
  });
});
