// The HTTP service against a real reconciler, the real engine and a real Git
// repository: signed webhooks, the control and read API, probes and metrics.
import { cpSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import {
  type DriftlessServer,
  listen,
  Reconciler,
  type RunRecord,
  signBody,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const TOKEN = "api-token-7f3e9b1c";
const HOOK_SECRET = "hook-secret-2a9d";

/** One Prometheus sample: metric name, labels and value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Parses the Prometheus text exposition format strictly enough to catch a
 * broken page: every line is a HELP/TYPE comment or a sample, every sample
 * belongs to a declared family, and values are numbers.
 */
function parsePrometheus(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        expect(comment[3]).toMatch(/^(counter|gauge|histogram|summary|untyped)$/);
        types.set(comment[2] as string, comment[3] as string);
      }
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$/.exec(
        line,
      );
    expect(sample, `not a Prometheus sample line: ${line}`).not.toBeNull();
    const [, name = "", labelText = "", raw = ""] = sample as RegExpExecArray;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(family), `no TYPE for ${name}`).toBe(true);
    const value =
      raw === "+Inf" ? Number.POSITIVE_INFINITY : raw === "-Inf" ? Number.NEGATIVE_INFINITY : Number(raw);
    expect(raw === "NaN" || !Number.isNaN(value), `bad value in ${line}`).toBe(true);
    const labels = Object.fromEntries(
      [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    samples.push({ name, labels, value });
  }
  return samples;
}

describe("the HTTP service", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let outDir: string;
  const started: string[] = [];

  const target = (name: string, path: string, overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    ref: "main",
    path,
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    ...overrides,
  });

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    // The site program lives in apps/site, so pushes elsewhere must not reach it.
    const seed = mkdtempSync(join(sandbox.dir, "http-seed-"));
    cpSync(siteProgramSeed(sandbox.dir), join(seed, "apps", "site"), { recursive: true });
    repo = createRepo(join(sandbox.dir, "repo"), { seed });
    repo.commit({ "docs/readme.md": "# infra" }, "initial");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [target("site", "apps/site"), target("other", "apps/other", { suspend: true })],
    });
    reconciler.on("run.started", (e) => started.push(e.target));
    server = await listen(reconciler, {
      port: 0,
      tokens: [TOKEN],
      webhooks: { github: HOOK_SECRET },
      maxBodyBytes: 64 * 1024,
    });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    sandbox?.dispose();
  });

  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token = TOKEN, ...rest } = init;
    return fetch(`${server.url}${path}`, {
      ...rest,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(rest.headers as Record<string, string>),
      },
    });
  };
  const pushBody = (paths: string[]) =>
    JSON.stringify({
      ref: "refs/heads/main",
      after: repo.head(),
      repository: { clone_url: repo.fileUrl, full_name: "acme/infra" },
      commits: [{ id: repo.head(), added: [], modified: paths, removed: [] }],
    });
  const hook = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/hooks/github`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-hub-signature-256": signBody(HOOK_SECRET, body),
        ...headers,
      },
    });

  it("refuses bad requests with the right status and runs nothing", async () => {
    const body = pushBody(["apps/site/site.json"]);
    expect((await hook(body, { "x-hub-signature-256": signBody("wrong-secret", body) })).status).toBe(401);
    const unsigned = await fetch(`${server.url}/hooks/github`, {
      method: "POST",
      body,
      headers: { "x-github-event": "push" },
    });
    expect(unsigned.status).toBe(401);
    expect((await hook(JSON.stringify({ padding: "x".repeat(70 * 1024) }))).status).toBe(413);
    expect((await hook('{"ref": "refs/heads/main",')).status).toBe(400);
    const unknown = await api("/targets/nope/reconcile", { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'unknown target "nope"' });
    expect((await api("/targets/site/reconcile", { method: "POST", token: null })).status).toBe(401);
    expect((await api("/targets", { token: "not-the-token" })).status).toBe(401);
    expect((await api("/targets/nope/runs")).status).toBe(404);
    expect((await api("/runs/nope")).status).toBe(404);
    // Still answering after all of that, and nothing ran.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(started).toEqual([]);
    expect(await reconciler.history("site")).toEqual([]);
  });

  it("triggers nothing for a push that touches other paths", async () => {
    repo.commit({ "docs/readme.md": "# infra, documented" }, "docs only");
    const res = await hook(pushBody(["docs/readme.md"]), { "x-github-delivery": "delivery-docs" });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ triggered: [] });
    expect(started).toEqual([]);
  });

  it("serves targets without secrets and reports readiness once scheduling runs", async () => {
    const res = await api("/targets/site");
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain("test-passphrase");
    expect(JSON.parse(text)).toMatchObject({
      name: "site",
      path: "apps/site",
      stack: "dev",
      status: { name: "site" },
    });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it("runs exactly the matching target for a signed push, once per delivery, and counts it", async () => {
    const before = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    expect(before.filter((s) => s.name === "driftless_runs_total")).toEqual([]);

    const revision = repo.commit(
      { "apps/site/site.json": '{ "index.html": "<h1>hooked</h1>", "about.html": "<p>about</p>" }' },
      "site via webhook",
    );
    const body = pushBody(["apps/site/site.json"]);
    const res = await hook(body, { "x-github-delivery": "delivery-1" });
    expect(res.status).toBe(202);
    const { triggered } = (await res.json()) as { triggered: { target: string; runId: string }[] };
    expect(triggered.map((t) => t.target)).toEqual(["site"]);
    const repeat = await hook(body, { "x-github-delivery": "delivery-1" });
    expect(await repeat.json()).toMatchObject({ duplicate: true, triggered: [] });

    let run: RunRecord | undefined;
    for (let i = 0; i < 600 && !run?.result; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const got = await api(`/runs/${triggered[0]?.runId}`);
      if (got.status === 200) run = (await got.json()) as RunRecord;
    }
    expect(run).toMatchObject({ target: "site", trigger: "webhook", result: "applied", revision });
    const history = (await (await api("/targets/site/runs?limit=5")).json()) as { runs: RunRecord[] };
    expect(history.runs.map((r) => r.id)).toEqual([triggered[0]?.runId]);
    expect(await reconciler.history("other")).toEqual([]);
    expect(started).toEqual(["site"]);

    const after = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    const value = (name: string, labels: Record<string, string>) =>
      after.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(value("driftless_runs_total", { target: "site", result: "applied" })).toBe(1);
    expect(value("driftless_run_duration_seconds_count", { target: "site", result: "applied" })).toBe(1);
    expect(value("driftless_target_ready", { target: "site" })).toBe(1);
    expect(value("driftless_last_successful_apply_timestamp_seconds", { target: "site" })).toBeGreaterThan(
      Date.now() / 1000 - 600,
    );
    expect(value("driftless_queue_depth", {})).toBe(0);
    expect(value("driftless_webhooks_total", { provider: "github", outcome: "duplicate" })).toBe(1);
  });

  it("suspends and resumes through the API, and is ready once started", async () => {
    const suspended = await api("/targets/site/suspend", {
      method: "POST",
      body: JSON.stringify({ reason: "maintenance" }),
    });
    expect(suspended.status).toBe(200);
    const res = await hook(pushBody(["apps/site/site.json"]), { "x-github-delivery": "delivery-2" });
    expect(await res.json()).toMatchObject({
      triggered: [],
      skipped: [{ target: "site", reason: "suspended" }],
    });
    const resumed = await api("/targets/site/resume", { method: "POST", body: '{"reason":"done"}' });
    expect(resumed.status).toBe(200);
    // Who is the token: the old anonymous form, an admin named after its position.
    expect(await resumed.json()).toMatchObject({ suspension: { by: "token-1", reason: "done" } });
    expect((await api("/targets/site/approve", { method: "POST", body: "{not json" })).status).toBe(400);
    // Unchanged revision: the startup run is skipped without the engine.
    reconciler.start();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
