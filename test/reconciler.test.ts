// The reconciler against the real Pulumi engine and real git: a local bare
// repository reached over file:// and over git's smart HTTP protocol.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  type DriftlessServer,
  type PulumiEngine as Engine,
  listen,
  PulumiEngine,
  Reconciler,
  type ReconcilerEvents,
  type TargetSpec,
  type TargetStatus,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { type GitHttpServer, startGitHttp } from "./support/gitHttp.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const SECRET = "tok-SECRET-5f1d2c9a";
const TOKEN = "reconciler-test-token";

describe("reconciling a Git repository with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let http: GitHttpServer;
  let engine: Engine;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let logText = "";
  const events: { name: keyof ReconcilerEvents; payload: unknown }[] = [];
  let outDir: string;
  let first: string;

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name: "site",
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir },
    secretConfig: { apiToken: SECRET },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    ...overrides,
  });

  const page = (name: string) => readFileSync(join(outDir, name), "utf8");
  /** A read of the HTTP API or the dashboard, as a token holder sees it. */
  const api = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status, path).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    first = repo.commit({}, "site v1");
    http = await startGitHttp(join(sandbox.dir, "repo"));
    engine = new PulumiEngine();
    const logger = pino(
      { level: "debug" },
      new Writable({
        write(chunk, _enc, done) {
          logText += chunk.toString();
          done();
        },
      }),
    );
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine,
      logger,
      installDependencies: false,
      targets: [spec()],
    });
    server = await listen(reconciler, { port: 0, tokens: [TOKEN] });
    for (const name of [
      "run.started",
      "run.finished",
      "drift.detected",
      "gate.refused",
      "stalled",
      "recovered",
    ] as const) {
      reconciler.on(name, (payload) => events.push({ name, payload }));
    }
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    await reconciler?.stop({ graceMs: 1000 });
    await http?.close();
    sandbox?.dispose();
  });

  it("applies the first commit", async () => {
    const run = await reconciler.reconcile("site");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(first);
    expect(run.counts).toMatchObject({ create: 2 });
    expect(page("index.html")).toBe("<h1>v1</h1>");
    const status = await reconciler.status("site");
    expect(status.lastAppliedRevision).toBe(first);
    expect(status.conditions.find((c) => c.type === "Ready")?.status).toBe(true);
    expect(status.outputs?.commit).toBe(first);
  });

  it("does not start the engine when the revision is unchanged", async () => {
    const before = engine.invocations;
    const run = await reconciler.reconcile("site", { trigger: "interval", force: false });
    expect(run.result).toBe("skipped");
    expect(engine.invocations).toBe(before);
  });

  it("applies a new commit", async () => {
    const second = repo.commit(
      { "site.json": '{ "index.html": "<h1>v2</h1>", "about.html": "<p>about</p>" }' },
      "v2",
    );
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("applied");
    expect(run.revision).toBe(second);
    expect(run.counts).toMatchObject({ update: 1, same: 1 });
    expect(page("index.html")).toBe("<h1>v2</h1>");
  });

  it("corrects an out-of-band change in apply mode", async () => {
    writeFileSync(join(outDir, "about.html"), "defaced");
    const run = await reconciler.reconcile("site", { trigger: "manual" });
    expect(run.result).toBe("drift-corrected");
    expect(run.drift).toBe(true);
    expect(page("about.html")).toBe("<p>about</p>");
    expect(events.some((e) => e.name === "drift.detected")).toBe(true);
  });

  it("only reports an out-of-band change in detect mode", async () => {
    reconciler.addTarget(spec({ mode: "detect" }));
    // The scenarios after this one apply, whatever fails here.
    onTestFinished(() => {
      reconciler.addTarget(spec());
    });
    writeFileSync(join(outDir, "about.html"), "defaced again");
    const run = await reconciler.reconcile("site");
    expect(run.result).toBe("drift-detected");
    expect(page("about.html")).toBe("defaced again");
    expect((await reconciler.status("site")).conditions.find((c) => c.type === "Drifted")?.status).toBe(true);
    reconciler.addTarget(spec());
    expect((await reconciler.reconcile("site")).result).toBe("drift-corrected");
    expect(page("about.html")).toBe("<p>about</p>");
  });

  it("stalls on a commit that does not compile and leaves the resources alone", async () => {
    const broken = repo.commit({ "index.js": "this is not javascript {" }, "broken");
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("stalled");
    expect(run.error).toMatch(/SyntaxError|Unexpected/);
    expect(page("index.html")).toBe("<h1>v2</h1>");
    const status = await reconciler.status("site");
    expect(status.stalledRevision).toBe(broken);
    expect(status.conditions.find((c) => c.type === "Stalled")).toMatchObject({
      status: true,
      reason: "ProgramFailed",
    });
    // No preview finished: whether the site drifted since the last check is not known.
    const notChecked = {
      type: "Drifted",
      status: "Unknown",
      reason: "NotChecked",
      message: expect.stringContaining(`not checked since ${status.lastDriftCheckAt}`),
    };
    expect(status.lastDriftCheckAt).toBeDefined();
    expect(status.conditions.find((c) => c.type === "Drifted")).toMatchObject(notChecked);
    // The same in the status JSON, the target's page and the run's page.
    const json = JSON.parse(await api("/targets/site")) as { status: TargetStatus };
    expect(json.status.conditions.find((c) => c.type === "Drifted")).toMatchObject(notChecked);
    expect(await api("/ui/targets/site")).toMatch(
      /<th scope="row">Drifted<\/th><td>Unknown<\/td><td>NotChecked<\/td><td>not checked since /,
    );
    expect(await api("/ui")).toMatch(
      /<span class="badge unchecked" title="not checked since [^"]+">drift not checked/,
    );
    const runPage = await api(`/ui/runs/${run.id}`);
    expect(runPage).not.toContain("none found");
    expect(runPage).toContain("not checked: the run ended before its preview finished");
    // The same revision is not retried by the scheduler.
    const before = engine.invocations;
    expect((await reconciler.reconcile("site", { trigger: "interval", force: false })).result).toBe(
      "skipped",
    );
    expect(engine.invocations).toBe(before);
  });

  it("recovers when the broken commit is reverted", async () => {
    const reverted = repo.revert(repo.head());
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("unchanged");
    expect((await reconciler.status("site")).lastAppliedRevision).toBe(reverted);
    expect(events.some((e) => e.name === "recovered")).toBe(true);
    // Its preview finished: drift is known again.
    expect((await reconciler.status("site")).conditions.find((c) => c.type === "Drifted")).toMatchObject({
      status: false,
      reason: "InSync",
    });
  });

  it("does not call a target in sync that could not reach its repository", async () => {
    reconciler.addTarget(
      spec({ name: "site-gone", repo: `file://${join(sandbox.dir, "gone.git")}`, stack: "gone" }),
    );
    const run = await reconciler.reconcile("site-gone");
    expect(run.result).toBe("failed");
    const drifted = (await reconciler.status("site-gone")).conditions.find((c) => c.type === "Drifted");
    expect(drifted).toMatchObject({ status: "Unknown", reason: "NotChecked" });
    expect(drifted?.message).toMatch(/^never checked: run .* ended before its preview finished$/);
    await reconciler.removeTarget("site-gone");
  });

  it("rolls the infrastructure back with git revert", async () => {
    const v2 = repo.head();
    const change = repo.commit(
      { "site.json": '{ "index.html": "<h1>v3</h1>", "about.html": "<p>about</p>" }' },
      "v3",
    );
    expect((await reconciler.reconcile("site", { trigger: "webhook", force: false })).result).toBe("applied");
    expect(page("index.html")).toBe("<h1>v3</h1>");
    repo.revert(change);
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("applied");
    expect(page("index.html")).toBe("<h1>v2</h1>");
    expect(v2).not.toBe(repo.head());
  });

  it("refuses an empty program over a non-empty stack", async () => {
    const empty = repo.commit({ "site.json": "{}" }, "delete everything");
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("stalled");
    expect(run.error).toMatch(/no resources/);
    expect(existsSync(join(outDir, "index.html"))).toBe(true);
    expect(events.some((e) => e.name === "gate.refused")).toBe(true);
    repo.revert(empty);
    expect((await reconciler.reconcile("site", { trigger: "webhook", force: false })).result).toBe(
      "unchanged",
    );
  });

  it("refuses a force-pushed ref that rewrites applied history", async () => {
    repo.forcePush(first);
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("stalled");
    expect(run.error).toMatch(/does not descend/);
    expect(page("index.html")).toBe("<h1>v2</h1>");
  });

  it("coalesces triggers during a run into one queued run", async () => {
    const running = await reconciler.request("site", { trigger: "manual" });
    const second = await reconciler.request("site", { trigger: "manual" });
    const third = await reconciler.request("site", { trigger: "webhook" });
    expect(second.id).toBe(third.id);
    expect(second.id).not.toBe(running.id);
    await Promise.all([running.done, second.done]);
    const ids = (await reconciler.history("site", 5)).map((r) => r.id);
    expect(ids.slice(0, 2).sort()).toEqual([running.id, second.id].sort());
  });

  it("reconciles over git's smart HTTP protocol", async () => {
    reconciler.addTarget(
      spec({
        name: "site-http",
        repo: `${http.url}/remote.git`,
        stack: "http",
        config: { outDir: join(outDir, "http") },
      }),
    );
    const run = await reconciler.reconcile("site-http");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(readFileSync(join(outDir, "http", "index.html"), "utf8")).toBe("<h1>v1</h1>");
    expect(http.requests.some((r) => r.includes("git-upload-pack"))).toBe(true);
  });

  it("keeps secrets out of logs, events and the database", async () => {
    // The program prints its token; the run log carries the line, never the value.
    expect(logText).toContain("deploying with token");
    expect(logText).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    const history = await reconciler.history("site", 100);
    expect(history.some((r) => r.log.includes("deploying with token"))).toBe(true);
    expect(JSON.stringify(history)).not.toContain(SECRET);
    for (const file of ["driftless.db", "driftless.db-wal"]) {
      const path = join(sandbox.dir, "data", file);
      if (existsSync(path)) expect(readFileSync(path).includes(SECRET)).toBe(false);
    }
  });
});
