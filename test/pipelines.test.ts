// Dependent stacks with the real engine and real git: three site programs in
// one repository, network → database → app, each in its own directory.
import { appendFileSync, cpSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  matchTargets,
  PulumiEngine,
  Reconciler,
  type ReconcilerEvents,
  SpecError,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const STACKS = ["network", "database", "app"] as const;

/** A repository with one site program per stack; database and app re-export what reached them. */
function pipelineSeed(parent: string): string {
  const seed = mkdtempSync(join(parent, "pipeline-seed-"));
  for (const name of STACKS) {
    const dir = join(seed, name);
    cpSync(siteProgramSeed(parent), dir, { recursive: true });
    // database reads one plain key; app reads its dependency's outputs typed, as one object.
    if (name === "database")
      appendFileSync(
        join(dir, "index.js"),
        '\nexports.networkCommit = config.require("deps.network.commit");\n',
      );
    if (name === "app")
      appendFileSync(
        join(dir, "index.js"),
        '\nexports.networkCommit = require("@driftless/core/dependencies").dependencyOutputs("database", ["networkCommit"]).networkCommit;\n',
      );
  }
  return seed;
}

describe("dependent stacks with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  const finished: ReconcilerEvents["run.finished"][] = [];

  const spec = (name: (typeof STACKS)[number], dependsOn: string[] = []): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    path: name,
    // One project name ("site") in one backend: the stack names keep them apart.
    stack: name,
    passphrase: "test-passphrase",
    config: { outDir: join(sandbox.dir, "out", name) },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    // Nothing changes out of band here; a refresh would only slow every run down.
    refresh: false,
    dependsOn,
  });

  /** What a push webhook would queue: the targets whose directory changed. */
  const push = async (paths: string[]) => {
    const matched = matchTargets(reconciler.targets(), {
      repoUrls: [repo.fileUrl],
      ref: "refs/heads/main",
      paths,
      deleted: false,
    });
    await Promise.all(
      matched.map(async (t) => (await reconciler.request(t.name, { trigger: "webhook" })).done),
    );
    return matched.map((t) => t.name);
  };

  const settled = () => reconciler.whenIdle();

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-pipelines-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: pipelineSeed(sandbox.dir) });
    repo.commit({}, "three stacks");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec("app", ["database"]), spec("database", ["network"]), spec("network")],
    });
    reconciler.on("run.finished", (e) => finished.push(e));
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("rejects a dependsOn cycle", async () => {
    const error = await Reconciler.create({
      dataDir: join(sandbox.dir, "cyclic"),
      targets: [spec("app", ["database"]), spec("database", ["network"]), spec("network", ["app"])],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpecError);
    expect((error as Error).message).toMatch(/dependsOn cycle: app → network → database → app/);
  });

  it("runs all three in order after a change under network/, passing outputs down", async () => {
    const revision = repo.commit(
      { "network/site.json": '{ "index.html": "<h1>network v2</h1>" }' },
      "network v2",
    );
    expect(await push(["network/site.json"])).toEqual(["network"]);
    await settled();
    expect(finished.map((e) => [e.target, e.result])).toEqual([
      ["network", "applied"],
      ["database", "applied"],
      ["app", "applied"],
    ]);
    expect((await reconciler.history("app"))[0]?.trigger).toBe("dependency");
    expect((await reconciler.status("network")).outputs?.commit).toBe(revision);
    expect((await reconciler.status("database")).outputs?.networkCommit).toBe(revision);
    expect((await reconciler.status("app")).outputs?.networkCommit).toBe(revision);
    expect(readFileSync(join(sandbox.dir, "out", "network", "index.html"), "utf8")).toBe(
      "<h1>network v2</h1>",
    );
  });

  it("runs only app after a change under app/", async () => {
    const networkRevision = (await reconciler.status("network")).outputs?.commit;
    finished.length = 0;
    const revision = repo.commit({ "app/site.json": '{ "index.html": "<h1>app v2</h1>" }' }, "app v2");
    expect(await push(["app/site.json"])).toEqual(["app"]);
    await settled();
    expect(finished.map((e) => [e.target, e.result])).toEqual([["app", "applied"]]);
    expect(await reconciler.history("network")).toHaveLength(1);
    expect(await reconciler.history("database")).toHaveLength(1);
    expect((await reconciler.status("app")).outputs).toMatchObject({
      commit: revision,
      networkCommit: networkRevision,
    });
  });

  it("holds a dependent back until a dependency behind its revision catches up", async () => {
    finished.length = 0;
    const revision = repo.commit(
      {
        "network/site.json": '{ "index.html": "<h1>network v3</h1>" }',
        "app/site.json": '{ "index.html": "<h1>app v3</h1>" }',
      },
      "network and app v3",
    );
    // Only app is asked (by hand, say); network has not seen the commit yet. A
    // scheduled check could reuse the ref answer of the push a moment ago (one
    // answer is shared for a few seconds), so this asks the remote afresh.
    const waited = await (await reconciler.request("app", { trigger: "manual", force: false })).done;
    expect(waited.log).toMatch(/dependency "network" applied \w+, which is behind \w+ \(its files changed\)/);
    await settled();
    expect(finished.map((e) => [e.target, e.result])).toEqual([
      ["network", "applied"],
      ["database", "applied"],
      ["app", "applied"],
    ]);
    expect((await reconciler.history("network"))[0]?.trigger).toBe("dependency");
    expect((await reconciler.status("app")).outputs).toMatchObject({
      commit: revision,
      networkCommit: revision,
    });
  });

  it("discovers one target per stack directory from one entry, and a push selects by directory", async () => {
    const discovered = await Reconciler.create({
      dataDir: join(sandbox.dir, "discovered"),
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      discover: [
        {
          name: "stacks",
          repo: repo.fileUrl,
          paths: "*",
          sharedPaths: ["lib/"],
          stack: "dev",
          passphrase: "test-passphrase",
          interval: "1h",
        },
      ],
    });
    try {
      const targets = discovered.targets();
      expect(targets.map((t) => [t.name, t.path, t.watchPaths])).toEqual([
        ["stacks-app", "app", ["lib/"]],
        ["stacks-database", "database", ["lib/"]],
        ["stacks-network", "network", ["lib/"]],
      ]);
      const pushed = (paths: string[]) =>
        matchTargets(targets, {
          repoUrls: [repo.fileUrl],
          ref: "refs/heads/main",
          paths,
          deleted: false,
        }).map((t) => t.name);
      expect(pushed(["app/site.json"])).toEqual(["stacks-app"]);
      expect(pushed(["lib/util.js"])).toEqual(["stacks-app", "stacks-database", "stacks-network"]);
      expect(pushed(["README.md"])).toEqual([]);
    } finally {
      await discovered.stop({ graceMs: 0 });
    }
  });
});
