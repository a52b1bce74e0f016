// The webhook fast path against real git and the real engine: a push that
// names its commit is applied without looking the ref up, and a payload
// naming a commit that is not the ref's tip never gets that commit applied.
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DriftlessServer,
  GitSource,
  listen,
  PulumiEngine,
  Reconciler,
  type RunRecord,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, git, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

describe("a push that names its commit", () => {
  const secret = "pushed-revision-secret";
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let source: GitSource;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let outDir: string;
  let deliveries = 0;
  const finished = new Set<string>();

  /** Sends a signed GitHub push for `main` naming `after`; resolves the run it triggered. */
  const push = async (after: string): Promise<RunRecord> => {
    const body = JSON.stringify({
      ref: "refs/heads/main",
      after,
      repository: { clone_url: repo.fileUrl },
      commits: [{ id: after, added: [], removed: [], modified: ["site.json"] }],
    });
    const response = await fetch(`${server.url}/hooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": `delivery-${++deliveries}`,
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
      body,
    });
    expect(response.status).toBe(202);
    const { triggered } = (await response.json()) as { triggered: { runId: string }[] };
    const runId = triggered[0]?.runId as string;
    await until(() => finished.has(runId), `run ${runId} to finish`, 120_000);
    return (await reconciler.run(runId)) as RunRecord;
  };
  const page = () => readFileSync(join(outDir, "index.html"), "utf8");

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({ "site.json": JSON.stringify({ "index.html": "v1" }) }, "v1");
    const dataDir = join(sandbox.dir, "data");
    source = new GitSource({ dataDir });
    reconciler = await Reconciler.create({
      dataDir,
      engine: new PulumiEngine(),
      source,
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [
        {
          name: "site",
          repo: repo.fileUrl,
          stack: "dev",
          passphrase: "test-passphrase",
          config: { outDir },
          env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
          refresh: false,
          interval: "1h",
        },
      ],
    });
    reconciler.on("run.finished", (event) => finished.add(event.runId));
    server = await listen(reconciler, { port: 0, webhooks: { github: secret } });
    expect((await reconciler.reconcile("site")).result).toBe("applied");
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("is applied with one fetch of the ref and no ref lookup", async () => {
    const v2 = repo.commit({ "site.json": JSON.stringify({ "index.html": "v2" }) }, "v2");
    const calls = source.remoteCalls;
    const run = await push(v2);
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "applied", revision: v2, trigger: "webhook" });
    expect(source.remoteCalls - calls).toBe(1);
    expect(page()).toBe("v2");
  });

  it("never applies a commit that is not the ref's tip, even one the mirror holds", async () => {
    // A commit on another branch of the remote, already fetched into the mirror (as a ref preview would).
    git(repo.work, "checkout", "--quiet", "-b", "evil");
    writeFileSync(join(repo.work, "site.json"), JSON.stringify({ "index.html": "evil" }));
    git(repo.work, "commit", "--quiet", "-am", "evil");
    git(repo.work, "push", "--quiet", "origin", "evil");
    const evil = git(repo.work, "rev-parse", "HEAD");
    git(repo.work, "checkout", "--quiet", "main");
    await source.checkout({ repo: repo.fileUrl, ref: "evil" }, evil, mkdtempSync(join(sandbox.dir, "pr-")));
    const v3 = repo.commit({ "site.json": JSON.stringify({ "index.html": "v3" }) }, "v3");

    const run = await push(evil);
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "applied", revision: v3 });
    expect(run.log).toContain(
      `the pushed commit ${evil.slice(0, 12)} is not main's tip; following ${v3.slice(0, 12)}`,
    );
    expect(page()).toBe("v3");
  });

  it("takes a pushed revert of a broken commit for the applied tree, with the same one fetch", async () => {
    const applied = (await reconciler.status("site")).lastAppliedRevision as string;
    const broken = repo.commit({ "index.js": "this is not javascript {" }, "broken");
    expect((await push(broken)).result).toBe("stalled");
    const reverted = repo.revert(broken);
    const calls = source.remoteCalls;
    const run = await push(reverted);
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "unchanged", revision: reverted });
    expect(run.log).toContain(
      `revision ${reverted.slice(0, 12)} has the same tree as the applied revision ${applied.slice(0, 12)}`,
    );
    expect(run.log).not.toMatch(/changes from Git/);
    expect(source.remoteCalls - calls).toBe(1);
    const status = await reconciler.status("site");
    expect(status.lastAppliedRevision).toBe(reverted);
    expect(status.stalledRevision).toBeUndefined();
    expect(page()).toBe("v3");
  });
});
