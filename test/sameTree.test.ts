// A new commit whose tree at the target's path is the applied revision's (a
// revert of a broken commit, a commit elsewhere in the repository) is the
// applied state at a new SHA, as Argo CD and Flux see it: the target is Ready
// at that SHA, a stall on the broken commit clears, and nothing is applied
// again — not even the commit's provenance, which the program stamps on a
// resource as `@driftless/core` stamps labels. Real engine, real git.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PulumiEngine, Reconciler, type ReconcilerEvents, type TargetSpec } from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

/** The site program, plus a page holding the commit it runs as (as provenance labels do). */
function programFiles(seed: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(seed)) files[`site/${name}`] = readFileSync(join(seed, name), "utf8");
  files["site/index.js"] +=
    '\nexports.stamp = new LocalFile("commit.txt", { path: path.join(outDir, "commit.txt"), content: String(process.env.DRIFTLESS_GIT_COMMIT) }).path;\n';
  return files;
}

describe("a revision with the applied revision's tree", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let engine: PulumiEngine;
  let reconciler: Reconciler;
  let outDir: string;
  let first: string;
  const events: { name: keyof ReconcilerEvents; payload: { revision?: string } }[] = [];

  const spec = (): TargetSpec => ({
    name: "site",
    repo: repo.fileUrl,
    path: "site",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
  });
  const stamped = () => readFileSync(join(outDir, "commit.txt"), "utf8");
  const condition = async (type: string) =>
    (await reconciler.status("site")).conditions.find((c) => c.type === type);

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-same-tree-");
    outDir = join(sandbox.dir, "out");
    repo = createRepo(join(sandbox.dir, "repo"));
    first = repo.commit(programFiles(siteProgramSeed(sandbox.dir)), "site v1");
    engine = new PulumiEngine();
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [spec()],
    });
    for (const name of ["revision.applied", "recovered", "stalled"] as const)
      reconciler.on(name, (payload) => events.push({ name, payload }));
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("applies the first commit, stamping it", async () => {
    const run = await reconciler.reconcile("site");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect(stamped()).toBe(first);
  });

  it("clears a stall when a revert restores the applied tree, and applies nothing", async () => {
    const appliedAt = (await reconciler.status("site")).revisionAppliedAt;
    expect(appliedAt).toBeDefined();
    const broken = repo.commit({ "site/index.js": "this is not javascript {" }, "broken");
    expect((await reconciler.reconcile("site", { trigger: "webhook", force: false })).result).toBe("stalled");
    expect((await reconciler.status("site")).stalledRevision).toBe(broken);

    const reverted = repo.revert(broken);
    expect(reverted).not.toBe(first);
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    expect(run.log).not.toMatch(/changes from Git not yet applied/);
    // The stall had to clear, so it ran: a drift check, no `up`.
    expect(run).toMatchObject({ result: "unchanged", revision: reverted, drift: false });
    expect(run.log).toContain(
      `revision ${reverted.slice(0, 12)} has the same tree as the applied revision ${first.slice(0, 12)} (site): nothing from Git to apply`,
    );
    expect(stamped()).toBe(first);

    const status = await reconciler.status("site");
    expect(status).toMatchObject({ lastAppliedRevision: reverted, programRevision: first });
    // The program applied as `first` runs on: a promotion's soak goes on counting from then.
    expect(status.revisionAppliedAt).toBe(appliedAt);
    expect(status.stalledRevision).toBeUndefined();
    expect(await condition("Ready")).toMatchObject({ status: true, reason: "Applied" });
    expect(await condition("Stalled")).toMatchObject({ status: false });
    expect(await condition("Drifted")).toMatchObject({ status: false, reason: "InSync" });
    expect(events.filter((e) => e.name === "revision.applied").at(-1)?.payload.revision).toBe(reverted);
    expect(events.at(-1)?.name).toBe("recovered");
  });

  it("records a commit outside the target's path as applied without starting the engine", async () => {
    const before = engine.invocations;
    const appliedAt = (await reconciler.status("site")).revisionAppliedAt;
    const docs = repo.commit({ "docs/notes.md": "how the site is deployed\n" }, "docs");
    // A push's check (a scheduled one may reuse the ref's answer of a few seconds ago).
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("skipped");
    expect(run.log).toContain(`revision ${docs.slice(0, 12)} has the same tree as the applied revision`);
    expect(engine.invocations).toBe(before);
    expect(await reconciler.status("site")).toMatchObject({
      lastAppliedRevision: docs,
      programRevision: first,
      revisionAppliedAt: appliedAt,
    });
    expect(await condition("Ready")).toMatchObject({
      status: true,
      message: expect.stringContaining(`applied revision ${docs}: the same tree as revision`),
    });
    expect(events.filter((e) => e.name === "revision.applied").at(-1)?.payload.revision).toBe(docs);
    // Current now: the next check has nothing to do.
    expect((await reconciler.reconcile("site", { trigger: "interval", force: false })).result).toBe(
      "skipped",
    );
  });

  it("keeps running the program as the commit it was applied as", async () => {
    const run = await reconciler.reconcile("site", { trigger: "manual" });
    expect(run.log).not.toMatch(/configuration or dependency outputs changed|changes from Git/);
    expect(run.result).toBe("unchanged");
    expect(stamped()).toBe(first);
  });

  it("applies a change under its path, as the new commit", async () => {
    const v2 = repo.commit({
      "site/site.json": '{ "index.html": "<h1>v2</h1>", "about.html": "<p>about</p>" }',
    });
    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.result).toBe("applied");
    expect(run.log).not.toContain("has the same tree");
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v2</h1>");
    expect(stamped()).toBe(v2);
    const status = await reconciler.status("site");
    expect(status.lastAppliedRevision).toBe(v2);
    expect(status.programRevision).toBeUndefined();
  });
});
