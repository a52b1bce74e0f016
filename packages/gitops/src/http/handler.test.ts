import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApplyResult, Engine, Plan } from "../engine/types.js";
import type { Source } from "../git/source.js";
import { Reconciler } from "../reconciler.js";
import { SqliteStore } from "../store/sqlite/store.js";
import { createHandler, type DriftlessHandler } from "./handler.js";
import { signBody } from "./signatures.js";

const REPO = "https://github.com/acme/infra.git";
const SHA = "a".repeat(40);
const counts = { create: 0, update: 0, delete: 0, replace: 0, same: 1 };

/** An engine that plans nothing and records what it was asked to do. */
class FakeEngine implements Engine {
  readonly calls: string[] = [];
  async preview(): Promise<Plan> {
    this.calls.push("preview");
    return { counts, steps: [], changes: false };
  }
  async up(): Promise<ApplyResult> {
    this.calls.push("up");
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
  resolve: async () => SHA,
  checkout: async () => undefined,
  changedFiles: async () => undefined,
};

describe("the HTTP handler", () => {
  let dir: string;
  let reconciler: Reconciler;
  let handler: DriftlessHandler;
  let server: Server;
  let base: string;
  const engine = new FakeEngine();
  const store = new SqliteStore(":memory:");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-handler-"));
    reconciler = await Reconciler.create({
      dataDir: dir,
      store,
      engine,
      source,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        {
          name: "site",
          repo: REPO,
          stack: "dev",
          path: "apps/site",
          passphrase: "pass-phrase-1",
          secretConfig: { key: "top-secret-value" },
        },
        {
          name: "api",
          repo: "git@github.com:acme/infra",
          stack: "dev",
          path: "apps/api",
          passphrase: "x-passphrase",
        },
      ],
    });
    handler = createHandler(reconciler, {
      tokens: ["api-token-1"],
      webhooks: { github: "gh-secret", gitlab: "gl-token", generic: "gen-secret" },
      maxBodyBytes: 4096,
      prefix: "/driftless",
    });
    server = createServer((req, res) =>
      handler(req, res, () => {
        res.writeHead(299).end("own route");
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/driftless`;
  });

  afterAll(async () => {
    handler.close();
    await new Promise((resolve) => server.close(resolve));
    await reconciler.stop({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = { authorization: "Bearer api-token-1" };
  const push = (paths: string[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      ref: "refs/heads/main",
      repository: { clone_url: REPO },
      commits: [{ added: [], modified: paths, removed: [] }],
      ...extra,
    });
  const github = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/hooks/github`, {
      method: "POST",
      body,
      headers: { "x-github-event": "push", "x-hub-signature-256": signBody("gh-secret", body), ...headers },
    });

  it("answers health and passes unknown paths on to the host's own routes", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/nothing-here`)).status).toBe(299);
    expect((await fetch(`${base.replace("/driftless", "")}/elsewhere`)).status).toBe(299);
  });

  it("refuses the control and read API without a valid bearer token", async () => {
    expect((await fetch(`${base}/targets`)).status).toBe(401);
    expect((await fetch(`${base}/targets`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    expect((await fetch(`${base}/targets/site/reconcile`, { method: "POST" })).status).toBe(401);
    expect(engine.calls).toEqual([]);
  });

  it("lists targets without secrets", async () => {
    const res = await fetch(`${base}/targets`, { headers: auth });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain("top-secret-value");
    expect(text).not.toContain("pass-phrase-1");
    const body = JSON.parse(text) as { targets: { name: string; secretConfigKeys: string[] }[] };
    expect(body.targets.map((t) => t.name)).toEqual(["site", "api"]);
    expect(body.targets[0]?.secretConfigKeys).toEqual(["key"]);
  });

  it("serves a resource's history by its URN, encoded in the path, however nested", async () => {
    // A URN past the 256 characters other path names may have, with the slashes of Kubernetes types.
    const chain = Array.from({ length: 12 }, (_, i) => `driftless:k8s:Level${i}`).join("$");
    const urn = `urn:pulumi:dev::site::${chain}$kubernetes:apps/v1:Deployment::web`;
    expect(urn.length).toBeGreaterThan(256);
    const entry = { urn, type: "kubernetes:apps/v1:Deployment", runId: "r1", at: "2025-01-01T00:00:00.000Z" };
    await store.recordResourceChanges("site", [
      { ...entry, op: "create", paths: [] },
      { ...entry, runId: "r2", op: "update", paths: ["spec.replicas"] },
    ]);
    const history = (path: string, headers = auth) => fetch(`${base}/targets/${path}/history`, { headers });
    const found = await history(`site/resources/${encodeURIComponent(urn)}`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({
      target: "site",
      urn,
      entries: [
        { runId: "r2", op: "update", paths: ["spec.replicas"] },
        { runId: "r1", op: "create" },
      ],
    });
    const limited = await fetch(`${base}/targets/site/resources/${encodeURIComponent(urn)}/history?limit=1`, {
      headers: auth,
    });
    expect(((await limited.json()) as { entries: unknown[] }).entries).toHaveLength(1);
    expect(await (await history(`site/resources/${encodeURIComponent("urn:x")}`)).json()).toMatchObject({
      entries: [],
    });
    expect((await history(`nope/resources/${encodeURIComponent(urn)}`)).status).toBe(404);
    expect((await history(`site/resources/${encodeURIComponent(urn)}`, {} as typeof auth)).status).toBe(401);
    expect((await history(`site/resources/${"x".repeat(2049)}`)).status).toBe(404);
  });

  it("answers 404 for an unknown target and 405 for a wrong method", async () => {
    const unknown = await fetch(`${base}/targets/nope/reconcile`, { method: "POST", headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'unknown target "nope"' });
    expect((await fetch(`${base}/targets/nope`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/runs/nope`, { headers: auth })).status).toBe(404);
    const wrong = await fetch(`${base}/targets/site/reconcile`, { headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect((await fetch(`${base}/targets/site/runs?limit=0`, { headers: auth })).status).toBe(400);
  });

  it("refuses webhooks that are unsigned, wrongly signed, too large or not JSON", async () => {
    const body = push(["apps/site/a"]);
    expect((await github(body, { "x-hub-signature-256": signBody("wrong", body) })).status).toBe(401);
    const unsigned = await fetch(`${base}/hooks/github`, {
      method: "POST",
      body,
      headers: { "x-github-event": "push" },
    });
    expect(unsigned.status).toBe(401);
    expect((await github("x".repeat(5000))).status).toBe(413);
    expect((await github("{not json")).status).toBe(400);
    expect((await github(JSON.stringify({ hello: 1 }))).status).toBe(400);
    const gitlab = await fetch(`${base}/hooks/gitlab`, {
      method: "POST",
      body,
      headers: { "x-gitlab-event": "Push Hook", "x-gitlab-token": "gl-tokenX" },
    });
    expect(gitlab.status).toBe(401);
    expect(engine.calls).toEqual([]);
  });

  it("answers ping and ignores other events", async () => {
    expect((await github("{}", { "x-github-event": "ping" })).status).toBe(200);
    const issue = await github("{}", { "x-github-event": "issues" });
    expect(issue.status).toBe(202);
    expect(await issue.json()).toMatchObject({ ignored: true });
  });

  it("triggers only the targets a push touches, once per delivery", async () => {
    const res = await github(push(["apps/site/site.json", "docs/x.md"]), { "x-github-delivery": "d-1" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { triggered: { target: string; runId: string }[] };
    expect(body.triggered.map((t) => t.target)).toEqual(["site"]);
    const again = await github(push(["apps/site/site.json"]), { "x-github-delivery": "d-1" });
    expect(await again.json()).toMatchObject({ duplicate: true, triggered: [] });
  });

  it("triggers through GitLab and the generic webhook with their own credentials", async () => {
    const gitlab = await fetch(`${base}/hooks/gitlab`, {
      method: "POST",
      body: JSON.stringify({
        ref: "refs/heads/main",
        project: { git_http_url: REPO },
        commits: [{ added: ["apps/api/x"], modified: [], removed: [] }],
      }),
      headers: { "x-gitlab-event": "Push Hook", "x-gitlab-token": "gl-token", "x-gitlab-event-uuid": "u-1" },
    });
    expect(gitlab.status).toBe(202);
    expect(
      ((await gitlab.json()) as { triggered: { target: string }[] }).triggered.map((t) => t.target),
    ).toEqual(["api"]);
    const generic = JSON.stringify({
      repository: "https://GITHUB.com/acme/infra",
      ref: "main",
      paths: ["apps/site/y"],
    });
    const res = await fetch(`${base}/hooks/generic`, {
      method: "POST",
      body: generic,
      headers: { "x-signature": signBody("gen-secret", generic), "x-delivery-id": "g-1" },
    });
    expect(
      ((await res.json()) as { triggered: { target: string }[] }).triggered.map((t) => t.target),
    ).toEqual(["site"]);
  });

  it("skips suspended targets and resumes them", async () => {
    const suspended = await fetch(`${base}/targets/site/suspend`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ reason: "maintenance" }),
    });
    expect(suspended.status).toBe(200);
    // Who is the token's identity: the old anonymous form is named after its position.
    expect(((await suspended.json()) as { suspension: { by: string } }).suspension.by).toBe("token-1");
    const res = await github(push(["apps/site/z"]));
    expect(await res.json()).toMatchObject({
      triggered: [],
      skipped: [{ target: "site", reason: "suspended" }],
    });
    const resumed = await fetch(`${base}/targets/site/resume`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ by: "Ada", reason: "incident over" }),
    });
    const status = (await resumed.json()) as {
      conditions: { type: string; status: boolean; message: string }[];
      suspension: unknown;
    };
    expect(status.conditions).toContainEqual(
      expect.objectContaining({
        type: "Suspended",
        status: false,
        message: "scheduled runs resumed by token-1 for Ada: incident over",
      }),
    );
    // An admin token may name the person it acts for.
    expect(status.suspension).toMatchObject({
      suspended: false,
      by: "token-1",
      onBehalfOf: "Ada",
      reason: "incident over",
    });
    const half = await fetch(`${base}/targets/site/suspend`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ by: "Ada" }),
    });
    expect(half.status).toBe(400);
    expect(await half.text()).toMatch(/`reason`/);
  });

  it("runs a manual reconcile and serves the run and history", async () => {
    const res = await fetch(`${base}/targets/site/reconcile`, { method: "POST", headers: auth });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    let run: { result?: string } = {};
    for (let i = 0; i < 50 && !run.result; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const got = await fetch(`${base}/runs/${runId}`, { headers: auth });
      if (got.status === 200) run = (await got.json()) as { result?: string };
    }
    expect(run.result).toBe("unchanged");
    const history = (await (await fetch(`${base}/targets/site/runs?limit=5`, { headers: auth })).json()) as {
      runs: { id: string }[];
    };
    expect(history.runs.map((r) => r.id)).toContain(runId);
    const approve = await fetch(`${base}/targets/api/approve`, {
      method: "POST",
      headers: auth,
      body: '{"revision":1}',
    });
    expect(approve.status).toBe(400);
  });

  it("answers 409 to an approval with nothing waiting, starting no run", async () => {
    await reconciler.whenIdle();
    const before = (await reconciler.history("site")).length;
    const calls = engine.calls.length;
    for (const body of [
      '{"by":"alice","reason":"looks fine"}',
      '{"revision":"abcdef1","by":"alice","reason":"looks fine"}',
    ]) {
      const res = await fetch(`${base}/targets/site/approve`, { method: "POST", headers: auth, body });
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({
        error: expect.stringMatching(/^target "site" has no revision waiting for approval/),
      });
    }
    await reconciler.whenIdle();
    expect(await reconciler.history("site")).toHaveLength(before);
    expect(engine.calls).toHaveLength(calls);
    const half = await fetch(`${base}/targets/site/approve`, {
      method: "POST",
      headers: auth,
      body: '{"by":"alice"}',
    });
    expect(half.status).toBe(400);
    expect(await half.json()).toEqual({ error: expect.stringContaining("`reason`") });
  });

  it("refuses an approval that does not say why, as the CLI does", async () => {
    for (const body of ["", "{}", '{"by":"alice"}', '{"by":"alice","reason":"   "}']) {
      const res = await fetch(`${base}/targets/site/approve`, { method: "POST", headers: auth, body });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: expect.stringMatching(/approval of "site": `reason` must say why the plan is approved/),
      });
    }
    // `by` comes from the token: without one in the body the approval is complete (nothing waits here).
    const withoutBy = await fetch(`${base}/targets/site/approve`, {
      method: "POST",
      headers: auth,
      body: '{"reason":"looks fine"}',
    });
    expect(withoutBy.status).toBe(409);
    expect(await withoutBy.json()).toEqual({ error: expect.stringContaining("no revision waiting") });
  });

  it("forgets the oldest delivery ids beyond the cache size", async () => {
    const small = createHandler(reconciler, { webhooks: { github: "gh-secret" }, deliveryCacheSize: 2 });
    const smallServer = createServer((req, res) => small(req, res));
    await new Promise<void>((resolve) => smallServer.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(smallServer.address() as AddressInfo).port}/hooks/github`;
    const deliver = async (delivery: string) => {
      const body = push(["docs/none.md"]);
      const res = await fetch(url, {
        method: "POST",
        body,
        headers: {
          "x-github-event": "push",
          "x-hub-signature-256": signBody("gh-secret", body),
          "x-github-delivery": delivery,
        },
      });
      return ((await res.json()) as { duplicate?: boolean }).duplicate === true;
    };
    try {
      expect(await deliver("a")).toBe(false);
      expect(await deliver("a")).toBe(true);
      expect(await deliver("b")).toBe(false);
      expect(await deliver("c")).toBe(false);
      // "a" was the least recently seen of three: forgotten.
      expect(await deliver("a")).toBe(false);
      expect(await deliver("c")).toBe(true);
    } finally {
      small.close();
      await new Promise((resolve) => smallServer.close(resolve));
    }
  });

  it("exposes metrics that follow runs", async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^driftless_runs_total\{target="site",result="unchanged"\} [1-9]/m);
    expect(text).toMatch(/^driftless_webhooks_total\{provider="github",outcome="unauthorized"\} 2$/m);
    expect(text).toMatch(/^driftless_queue_depth 0$/m);
    expect(text).toMatch(/^driftless_target_ready\{target="site"\} 1$/m);
    // No Kubernetes target: nothing watched, nothing counted.
    expect(text).toMatch(/^driftless_watches_open 0$/m);
    expect(text).toMatch(/^driftless_watch_drift_checks_total 0$/m);
    expect(text).toMatch(/^driftless_watch_drift_checks_covered_total 0$/m);
    expect(text).toMatch(/^driftless_watch_lag_seconds_count 0$/m);
  });
});
