// What the HTTP surface gives away: secrets in text replies and streamed
// logs, stream bounds, echoed names, and target names before a login.
import { mkdtempSync, rmSync } from "node:fs";
import { type ClientRequest, type IncomingMessage, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApplyResult, Engine, Plan } from "../engine/types.js";
import type { Source } from "../git/source.js";
import { Reconciler } from "../reconciler.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type { RunRecord } from "../types.js";
import { type DriftlessServer, listen } from "./server.js";

const TOKEN = "api-token-5c1e";
const HOOK_SECRET = "gh-hook-secret-77aa";
/** A secret of the embedding service (its database password), given to the reconciler as `secrets`. */
const SERVICE_SECRET = "service-db-password-4f2d";
const counts = { create: 0, update: 0, delete: 0, replace: 0, same: 1 };

class FakeEngine implements Engine {
  async preview(): Promise<Plan> {
    return { counts, steps: [], changes: false };
  }
  async up(): Promise<ApplyResult> {
    return { counts, outputs: {} };
  }
  async destroy(): Promise<ApplyResult> {
    return { counts, outputs: {} };
  }
  async recover(): Promise<string[]> {
    return [];
  }
}

const source: Source = {
  resolve: async () => "a".repeat(40),
  checkout: async () => undefined,
  changedFiles: async () => undefined,
};

/** A request that stays open (an event stream), from a chosen local address. */
function open(
  url: string,
  headers: Record<string, string> = {},
  localAddress = "127.0.0.1",
): Promise<{ res: IncomingMessage; req: ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, localAddress }, (res) => resolve({ res, req }));
    req.on("error", reject);
    req.end();
  });
}

/** The whole body of a response. */
function text(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      body += chunk;
    });
    res.on("end", () => resolve(body));
    res.on("error", reject);
  });
}

describe("the HTTP surface's security bounds", () => {
  let dir: string;
  let store: SqliteStore;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let run: RunRecord;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-security-"));
    store = new SqliteStore(":memory:");
    reconciler = await Reconciler.create({
      dataDir: dir,
      store,
      engine: new FakeEngine(),
      source,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      secrets: [SERVICE_SECRET],
      targets: [
        { name: "site", repo: "https://git.example/acme/infra.git", stack: "dev", passphrase: "pass-1234" },
      ],
    });
    server = await listen(reconciler, {
      port: 0,
      tokens: [TOKEN],
      webhooks: { github: HOOK_SECRET },
      publicReads: true,
      streams: { max: 4, perClient: 3 },
    });
    run = await reconciler.reconcile("site");
    // What a program printed, as its log holds it if the run's own masking missed it.
    await store.appendLog(run.id, `token ${TOKEN} hook ${HOOK_SECRET} db ${SERVICE_SECRET} pass pass-1234\n`);
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  const expectMasked = (body: string) => {
    for (const secret of [TOKEN, HOOK_SECRET, SERVICE_SECRET, "pass-1234"])
      expect(body).not.toContain(secret);
    expect(body).toContain("token [redacted] hook [redacted] db [redacted] pass [redacted]");
  };

  it("masks every secret in a run's log as text, without a token under publicReads", async () => {
    const res = await fetch(`${server.url}/runs/${run.id}/log`);
    expect(res.status).toBe(200);
    expectMasked(await res.text());
  });

  it("masks every secret in each chunk of a followed log", async () => {
    const { res } = await open(`${server.url}/runs/${run.id}/log?follow=1`);
    expect(res.statusCode).toBe(200);
    const body = await text(res);
    expect(body).toContain("event: end");
    expectMasked(body);
  });

  it("echoes no name or id longer than 256 characters", async () => {
    // 4 KB: Node refuses request lines over its 16 KB header limit before any route sees them.
    const long = "a.".repeat(2 * 1024);
    for (const path of [`/runs/${long}`, `/targets/${long}`, `/ui/targets/${long}`]) {
      const res = await fetch(`${server.url}${path}`, { headers: auth });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain("a.".repeat(200));
    }
    const page = await (await fetch(`${server.url}/ui?q=${long}`)).text();
    expect(page).not.toContain("a.".repeat(200));
  });

  it("answers a dashboard action without a login 401, the same for a known and an unknown target", async () => {
    for (const name of ["site", "no-such-target"]) {
      const res = await fetch(`${server.url}/ui/targets/${name}/reconcile`, { method: "POST", body: "" });
      expect(res.status).toBe(401);
    }
  });

  it("needs a session or a token for the dashboard's event stream, even with publicReads", async () => {
    const { res, req } = await open(`${server.url}/ui/events`);
    expect(res.statusCode).toBe(401);
    res.resume();
    req.destroy();
  });

  it("refuses streams beyond the caps per client and in total, and still answers /healthz", async () => {
    const held: { res: IncomingMessage; req: ClientRequest }[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        held.push(await open(`${server.url}/ui/events`, auth));
        expect(held.at(-1)?.res.statusCode).toBe(200);
      }
      const fourth = await open(`${server.url}/ui/events`, auth);
      expect(fourth.res.statusCode).toBe(503);
      expect(await text(fourth.res)).toContain("from 127.0.0.1 (at most 3)");
      // Another client address gets one more, up to the total of 4.
      const other = await open(`${server.url}/ui/events`, auth, "127.0.0.2");
      held.push(other);
      expect(other.res.statusCode).toBe(200);
      const beyond = await open(`${server.url}/runs/${run.id}/log?follow=1`, auth, "127.0.0.3");
      expect(beyond.res.statusCode).toBe(503);
      expect(await text(beyond.res)).toContain("too many open event streams (at most 4)");
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      for (const { req, res } of held) {
        res.destroy();
        req.destroy();
      }
    }
    // Closed streams are counted out: a new one is let in again.
    const deadline = Date.now() + 5000;
    for (;;) {
      const again = await open(`${server.url}/ui/events`, auth);
      again.res.destroy();
      again.req.destroy();
      if (again.res.statusCode === 200) break;
      if (Date.now() > deadline) throw new Error(`streams were not counted out: ${again.res.statusCode}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("ends a stream after its lifetime", async () => {
    const short = await listen(reconciler, { port: 0, tokens: [TOKEN], streams: { maxLifetimeMs: 300 } });
    try {
      const { res } = await open(`${short.url}/ui/events`, auth);
      expect(res.statusCode).toBe(200);
      const started = Date.now();
      const body = await text(res);
      expect(body).toContain("event: hello");
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await short.close();
    }
  });
});
