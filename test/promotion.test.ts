// Environment promotion with the real engine and real git: prod follows the
// revisions staging applied and kept healthy for a soak time; promotions are
// recorded; manual promote (over HTTP) and rollback (library and HTTP) move prod.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DriftlessServer,
  listen,
  PulumiEngine,
  Reconciler,
  type ReconcilerEvents,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

const SOAK_MS = 4000;

const TOKEN = "promotion-token";

describe("staging → prod promotion with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  const finished: (ReconcilerEvents["run.finished"] & { at: number })[] = [];

  const spec = (name: "staging" | "prod", extra: Partial<TargetSpec> = {}): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    stack: name,
    passphrase: "test-passphrase",
    config: { outDir: join(sandbox.dir, "out", name) },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    // Nothing changes out of band here; a refresh would only slow every run down.
    refresh: false,
    ...extra,
  });
  const page = (name: string) => readFileSync(join(sandbox.dir, "out", name, "index.html"), "utf8");
  const api = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  /** Resolves with the next finished run of a target that matches. */
  const nextRun = (target: string, result: string, timeoutMs = 120_000) =>
    new Promise<ReconcilerEvents["run.finished"] & { at: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${result} run of ${target} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = reconciler.on("run.finished", (e) => {
        if (e.target !== target || e.result !== result) return;
        clearTimeout(timer);
        off();
        resolve({ ...e, at: Date.now() });
      });
    });

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-promotion-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({ "site.json": '{ "index.html": "<h1>v1</h1>" }' }, "v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [
        spec("staging"),
        spec("prod", { promote: { from: "staging", after: `${SOAK_MS}ms`, requireHealthy: true } }),
      ],
    });
    reconciler.on("run.finished", (e) => finished.push({ ...e, at: Date.now() }));
    // A named token: promotions through the API record its name as who asked.
    server = await listen(reconciler, {
      port: 0,
      tokens: [{ name: "bob", secret: TOKEN, roles: ["admin"] }],
    });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("promotes what staging applied only after it stayed healthy for the soak time", async () => {
    const v1 = repo.head();
    const stagingApplied = nextRun("staging", "applied");
    const prodApplied = nextRun("prod", "applied");
    reconciler.start();
    const staging = await stagingApplied;
    // The soak time counts from when staging applied v1 and was last seen becoming Ready.
    const upstream = await reconciler.status("staging");
    const readySince = upstream.conditions.find((c) => c.type === "Ready")?.since ?? "";
    const appliedAt = Math.max(Date.parse(upstream.revisionAppliedAt ?? ""), Date.parse(readySince));
    expect(staging.revision).toBe(v1);

    // Inside the soak time prod waits, says for what, and has run no engine.
    await until(
      async () => (await reconciler.status("prod")).pendingPromotion !== undefined,
      "prod to see v1",
    );
    const waiting = await reconciler.status("prod");
    expect(waiting.pendingPromotion).toEqual({
      revision: v1,
      dueAt: new Date(appliedAt + SOAK_MS).toISOString(),
    });
    expect(waiting.lastAppliedRevision).toBeUndefined();
    expect(await reconciler.history("prod")).toEqual([]);

    const prod = await prodApplied;
    expect(prod.revision).toBe(v1);
    const prodRun = (await reconciler.history("prod"))[0];
    expect(Date.parse(prodRun?.startedAt ?? "")).toBeGreaterThanOrEqual(appliedAt + SOAK_MS);
    expect(prodRun?.trigger).toBe("promotion");
    expect(page("prod")).toBe("<h1>v1</h1>");
    expect(await reconciler.promotions("prod")).toMatchObject([
      { kind: "auto", source: "staging", revision: v1 },
    ]);
    expect((await reconciler.status("prod")).pendingPromotion).toBeUndefined();
  });

  it("keeps prod on the old revision while a new one soaks in staging, then promotes it", async () => {
    const v1 = (await reconciler.status("prod")).lastAppliedRevision;
    const v2 = repo.commit({ "site.json": '{ "index.html": "<h1>v2</h1>" }' }, "v2");
    const prodApplied = nextRun("prod", "applied");
    const staging = await reconciler.reconcile("staging", { trigger: "webhook" });
    expect(staging).toMatchObject({ result: "applied", revision: v2 });
    const stagingAt = Date.parse((await reconciler.status("staging")).revisionAppliedAt ?? "");

    await new Promise((r) => setTimeout(r, SOAK_MS / 2));
    expect(page("staging")).toBe("<h1>v2</h1>");
    expect(page("prod")).toBe("<h1>v1</h1>");
    expect(await reconciler.status("prod")).toMatchObject({
      lastAppliedRevision: v1,
      pendingPromotion: { revision: v2 },
    });

    const prod = await prodApplied;
    expect(prod.revision).toBe(v2);
    expect(prod.at).toBeGreaterThanOrEqual(stagingAt + SOAK_MS);
    expect(page("prod")).toBe("<h1>v2</h1>");
    expect((await reconciler.promotions("prod"))[0]).toMatchObject({
      kind: "auto",
      revision: v2,
      previousRevision: v1,
    });
  });

  it("rolls prod back by hand and does not promote the bad revision again", async () => {
    const [v2, v1] = [
      (await reconciler.status("prod")).lastAppliedRevision,
      (await reconciler.promotions("prod"))[1]?.revision,
    ];
    const run = await (await reconciler.rollback("prod", { by: "alice", reason: "v2 breaks checkout" })).done;
    expect(run).toMatchObject({ result: "applied", revision: v1 });
    expect(page("prod")).toBe("<h1>v1</h1>");
    expect((await reconciler.promotions("prod"))[0]).toMatchObject({
      kind: "rollback",
      revision: v1,
      previousRevision: v2,
      by: "alice",
      reason: "v2 breaks checkout",
    });
    expect((await reconciler.status("prod")).heldBackRevision).toBe(v2);

    // Staging still holds v2, long past its soak time; a check leaves prod alone.
    const check = await reconciler.reconcile("prod", { trigger: "promotion", force: false });
    expect(check.result).toBe("skipped");
    expect((await reconciler.status("prod")).lastAppliedRevision).toBe(v1);
  });

  it("promotes and rolls back over HTTP, naming bad input", async () => {
    const v2 = (await reconciler.status("staging")).lastAppliedRevision as string;
    const missing = await api("/targets/prod/promote", {});
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toMatch(
      /`reason` must say why, got undefined/,
    );
    const unknownRevision = await api("/targets/prod/promote", {
      reason: "x",
      revision: "abcdef1",
    });
    expect(unknownRevision.status).toBe(409);
    expect(((await unknownRevision.json()) as { error: string }).error).toMatch(
      /"staging" never applied it successfully/,
    );
    const notPromoted = await api("/targets/staging/rollback", { reason: "x" });
    expect(notPromoted.status).toBe(409);

    const applied = nextRun("prod", "applied");
    const promoted = await api("/targets/prod/promote", {
      reason: "fix verified",
      revision: v2.slice(0, 10),
    });
    expect(promoted.status).toBe(202);
    expect(await promoted.json()).toMatchObject({
      target: "prod",
      promotion: { kind: "manual", revision: v2, by: "bob", reason: "fix verified" },
    });
    expect((await applied).revision).toBe(v2);
    expect(page("prod")).toBe("<h1>v2</h1>");
    expect((await reconciler.status("prod")).heldBackRevision).toBeUndefined();

    const listed = await fetch(`${server.url}/targets/prod/promotions?limit=10`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const kinds = ((await listed.json()) as { promotions: { kind: string }[] }).promotions.map((p) => p.kind);
    expect(kinds).toEqual(["manual", "rollback", "auto", "auto"]);
  });
});
