// The HTTP handler inside a real express app that parses JSON globally: a
// signed webhook works when the raw bytes are kept (`req.rawBody`), and
// without them the answer says what to change instead of "aborted".

import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHandler, Reconciler, signBody } from "@driftless/gitops";
import express from "express";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SECRET = "express-webhook-secret";
const TOKEN = "express-api-token";

describe("the handler mounted in express after express.json()", () => {
  let dir: string;
  let reconciler: Reconciler;
  const servers: Server[] = [];

  /** An app with a global JSON parser, keeping the raw bytes or not, and driftless under /driftless. */
  const serve = async (keepRaw: boolean): Promise<string> => {
    const app = express();
    app.use(
      keepRaw
        ? express.json({
            verify: (req, _res, buf) => {
              (req as unknown as { rawBody: Buffer }).rawBody = buf;
            },
          })
        : express.json(),
    );
    app.use("/driftless", createHandler(reconciler, { webhooks: { generic: SECRET }, tokens: [TOKEN] }));
    const server = app.listen(0, "127.0.0.1");
    servers.push(server);
    await new Promise((resolve) => server.once("listening", resolve));
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    return `http://127.0.0.1:${address.port}/driftless`;
  };

  const push = (url: string) => {
    const body = JSON.stringify({ repository: "https://example.com/elsewhere.git", ref: "main" });
    return fetch(`${url}/hooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": signBody(SECRET, body) },
      body,
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-express-"));
    // Never started: no run, no engine; the target only makes the control route reachable.
    reconciler = await Reconciler.create({
      dataDir: dir,
      logger: pino({ level: "silent" }),
      targets: [{ name: "site", repo: "https://example.com/infra.git", stack: "dev", passphrase: "unused" }],
    });
  });

  afterAll(async () => {
    for (const server of servers) server.close();
    await reconciler?.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifies a signed webhook against req.rawBody", async () => {
    const res = await push(await serve(true));
    expect(res.status).toBeLessThan(300);
    const forged = await fetch(`${await serve(true)}/hooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": signBody("wrong", "{}") },
      body: JSON.stringify({ repository: "https://example.com/elsewhere.git", ref: "main" }),
    });
    expect(forged.status).toBe(401);
  });

  it("says how to fix the app when the parser kept no raw bytes", async () => {
    const url = await serve(false);
    const res = await push(url);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toContain("already read by a body parser");
    expect(error).toContain("req.rawBody");
    // A control route would otherwise lose its body silently and act on defaults.
    const approve = await fetch(`${url}/targets/site/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ revision: "0123456789abcdef0123456789abcdef01234567" }),
    });
    expect(approve.status).toBe(400);
    expect(((await approve.json()) as { error: string }).error).toContain("already read by a body parser");
  });
});
