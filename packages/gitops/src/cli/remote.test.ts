import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DriftlessServer, listen } from "../http/server.js";
import { Reconciler } from "../reconciler.js";
import { FakeEngine, FakeSource } from "../reconciler.test-support.js";
import { SqliteStore } from "../store/sqlite/store.js";
import { main } from "./program.js";
import { TOKEN_ENV } from "./remote.js";

describe("the CLI sending commands to a server", () => {
  let dir: string;
  let reconciler: Reconciler;
  let server: DriftlessServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-remote-"));
    reconciler = await Reconciler.create({
      dataDir: dir,
      store: new SqliteStore(":memory:"),
      engine: new FakeEngine(),
      source: new FakeSource(),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [{ name: "prod-web", repo: "https://example.com/infra.git", stack: "prod", passphrase: "p" }],
    });
    server = await listen(reconciler, {
      port: 0,
      tokens: [
        { name: "viewer", secret: "viewer-token", roles: ["reader"] },
        { name: "oncall", secret: "oncall-token", roles: ["operator"] },
        { name: "deployer", secret: "deployer-token", roles: ["deployer"] },
      ],
      policy: {
        roles: {
          operator: [{ actions: ["read", "suspend", "resume"], targets: ["prod-*"] }],
          deployer: [{ actions: ["read", "reconcile"], targets: ["prod-*"] }],
        },
      },
    });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `driftless …` with the token in the environment; its exit code, stdout and stderr. */
  const driftless = async (token: string | undefined, ...argv: string[]) => {
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks = { out: "", err: "" };
    out.on("data", (d: Buffer) => {
      chunks.out += d.toString();
    });
    err.on("data", (d: Buffer) => {
      chunks.err += d.toString();
    });
    const before = process.env[TOKEN_ENV];
    if (token === undefined) delete process.env[TOKEN_ENV];
    else process.env[TOKEN_ENV] = token;
    try {
      const code = await main(["node", "driftless", ...argv], { out, err });
      return { code, ...chunks };
    } finally {
      if (before === undefined) delete process.env[TOKEN_ENV];
      else process.env[TOKEN_ENV] = before;
    }
  };

  it("acts as the token's identity, and shows a refusal with the missing permission", async () => {
    const refused = await driftless(
      "viewer-token",
      "suspend",
      "prod-web",
      "--reason",
      "freeze",
      "--server",
      server.url,
    );
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      "not allowed (403): token viewer may not suspend prod-web (needs suspend on prod-web)\n",
    );
    expect(reconciler.isSuspended("prod-web")).toBe(false);

    const done = await driftless(
      "oncall-token",
      "suspend",
      "prod-web",
      "--reason",
      "freeze",
      "--server",
      server.url,
    );
    expect(done).toMatchObject({ code: 0, out: "prod-web: suspend done by oncall\n" });
    expect((await reconciler.status("prod-web")).suspension).toMatchObject({
      by: "oncall",
      reason: "freeze",
    });

    // A name for someone else is the server's to refuse: only an admin may act for another person.
    const named = await driftless(
      "oncall-token",
      ...["resume", "prod-web", "--reason", "thaw", "--by", "ada", "--server", server.url],
    );
    expect(named.code).toBe(1);
    expect(named.err).toMatch(/^resume refused \(400\): by is taken from who you are \(token oncall\)/);
  });

  it("queues a run and plans a ref on the server, each only with its permission", async () => {
    const refused = await driftless("oncall-token", "reconcile", "prod-web", "--server", server.url);
    expect(refused).toMatchObject({
      code: 1,
      err: "not allowed (403): token oncall may not reconcile prod-web (needs reconcile on prod-web)\n",
    });
    const queued = await driftless("deployer-token", "reconcile", "prod-web", "--server", server.url);
    expect(queued.code).toBe(0);
    const runId = /run (\S+) queued/.exec(queued.out)?.[1];
    expect(runId).toBeDefined();
    expect((await reconciler.run(runId as string))?.target).toBe("prod-web");
    const preview = await driftless(
      "deployer-token",
      ...["preview", "prod-web", "--ref", "feature", "--server", server.url],
    );
    expect(preview).toMatchObject({
      code: 1,
      err: "not allowed (403): token deployer may not preview prod-web (needs preview on prod-web)\n",
    });
  });

  it("says what is missing without a token, and when the token is unknown", async () => {
    const none = await driftless(undefined, "resume", "prod-web", "--reason", "x", "--server", server.url);
    expect(none).toMatchObject({
      code: 64,
      err: `--server needs an API token in the environment variable ${TOKEN_ENV}\n`,
    });
    const wrong = await driftless("nope", "resume", "prod-web", "--reason", "x", "--server", server.url);
    expect(wrong).toMatchObject({
      code: 1,
      err: `the server refused the token in ${TOKEN_ENV} (401): that bearer token is not valid\n`,
    });
  });
});
