// The resource inventory against the real engine and a `file://` backend:
// every resource synced after an apply, with the run that created it; a file
// edited by hand shows as drifted with its property paths in detect mode,
// through the library, the HTTP API and the CLI.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type DriftlessServer,
  listen,
  PulumiEngine,
  Reconciler,
  type ResourceEntry,
  type ResourceNode,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));
const TOKEN = "resources-token-7d1c";
const FILE_TYPE = "pulumi-nodejs:dynamic:Resource";

function driftless(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("the resource inventory with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let outDir: string;
  let dataDir: string;
  let first: string;
  let appliedRun: string;

  const spec = (name: string, overrides: Partial<TargetSpec> = {}): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    ...overrides,
  });
  const files = (resources: readonly ResourceEntry[]) => resources.filter((r) => r.type === FILE_TYPE);

  beforeAll(async () => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    dataDir = join(sandbox.dir, "data");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    first = repo.commit({}, "site v1");
    reconciler = await Reconciler.create({
      dataDir,
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec("site")],
    });
    server = await listen(reconciler, { port: 0, tokens: [TOKEN] });
    const applied = await reconciler.reconcile("site");
    expect(applied.error).toBeUndefined();
    expect(applied.result).toBe("applied");
    appliedRun = applied.id;
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("lists every resource of the stack as synced after an apply, with the run that created it", async () => {
    const inventory = await reconciler.resources("site");
    expect(inventory).toMatchObject({ target: "site", runId: appliedRun, revision: first });
    const resources = inventory?.resources ?? [];
    const stack = resources.find((r) => r.type === "pulumi:pulumi:Stack");
    expect(stack).toMatchObject({ custom: false, protect: false, sync: "synced" });
    const pages = files(resources);
    expect(pages.map((r) => r.name).sort()).toEqual(["about.html", "index.html"]);
    for (const page of pages) {
      expect(page).toMatchObject({
        parent: stack?.urn,
        provider: expect.stringMatching(/::pulumi:providers:pulumi-nodejs::default/),
        protect: false,
        custom: true,
        sync: "synced",
        health: { status: "Unknown" },
        lastChange: { runId: appliedRun, revision: first, op: "create" },
      });
      // The inventory holds no output values (the page's content, its path).
      expect(JSON.stringify(page)).not.toContain(outDir);
    }
    expect(resources.every((r) => r.sync === "synced")).toBe(true);
  });

  it("shows a resource edited by hand as drifted with its property paths in detect mode", async () => {
    await reconciler.removeTarget("site");
    expect(await reconciler.resources("site").catch((e: Error) => e.name)).toBe("UnknownTargetError");
    writeFileSync(join(outDir, "about.html"), "edited by hand");
    reconciler.addTarget(spec("watch", { mode: "detect" }));
    const run = await reconciler.reconcile("watch");
    expect(run).toMatchObject({ result: "drift-detected", drift: true });

    const pages = files((await reconciler.resources("watch"))?.resources ?? []);
    const about = pages.find((r) => r.name === "about.html");
    expect(about).toMatchObject({ sync: "drifted", driftPaths: expect.arrayContaining(["content", "size"]) });
    expect(pages.find((r) => r.name === "index.html")?.sync).toBe("synced");
    expect(JSON.stringify(pages)).not.toContain("edited by hand");
  });

  it("serves the inventory over HTTP, flat and as a tree", async () => {
    const get = (path: string) =>
      fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const flat = await get("/targets/watch/resources");
    expect(flat.status).toBe(200);
    const body = (await flat.json()) as { counts: Record<string, number>; resources: ResourceEntry[] };
    expect(body.counts).toMatchObject({ drifted: 1, pending: 0, failed: 0 });
    expect(body.resources.find((r) => r.name === "about.html")?.driftPaths).toContain("content");

    const tree = (await (await get("/targets/watch/resources?tree=1")).json()) as {
      resources: ResourceNode[];
    };
    const root = tree.resources.find((r) => r.type === "pulumi:pulumi:Stack");
    expect(root?.children.map((c) => c.name).sort()).toEqual(["about.html", "index.html"]);

    expect((await get("/targets/watch/resources?tree=yes")).status).toBe(400);
    expect((await get("/targets/nope/resources")).status).toBe(404);
    expect((await fetch(`${server.url}/targets/watch/resources`)).status).toBe(401);
  });

  it("prints the inventory from the CLI as a tree and as JSON, and a resource's history", async () => {
    const config = join(sandbox.dir, "driftless.yaml");
    writeFileSync(
      config,
      JSON.stringify({
        dataDir,
        targets: [{ name: "watch", repo: repo.fileUrl, stack: "dev", mode: "detect" }],
      }),
    );
    const table = await driftless("resources", "watch", "--tree", "--config", config);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RESOURCE\s+TYPE\s+SYNC\s+HEALTH\s+CHANGED BY\s+DETAIL$/);
    expect(table.stdout).toMatch(
      /^ {2}about\.html\s+pulumi-nodejs:dynamic:Resource\s+drifted\s+Unknown\s+-\s+changed: .*content/m,
    );
    expect(table.stdout).toMatch(/^ {2}index\.html\s+\S+\s+synced\s+Unknown/m);
    expect(table.stderr).toMatch(
      /resource\(s\) after run \w{8} .*: \d+ synced, 1 drifted, 0 pending, 0 failed/,
    );

    const json = await driftless("resources", "watch", "--json", "--config", config);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { target: string; resources: ResourceEntry[] };
    expect(parsed.target).toBe("watch");
    expect(parsed.resources.find((r) => r.name === "about.html")?.sync).toBe("drifted");
    expect(readFileSync(join(outDir, "about.html"), "utf8")).toBe("edited by hand");

    // One resource's history: the run that found it drifted, with the properties that moved.
    const urn = parsed.resources.find((r) => r.name === "about.html")?.urn ?? "";
    const history = await driftless("resources", "watch", "--history", urn, "--config", config);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^AT\s+RUN\s+REVISION\s+OP\s+PROPERTIES$/m);
    expect(history.stdout).toMatch(/\s\w{8}\s+\w{12}\s+drift\s+.*content/);
  });

  it("shows Git's changes not yet applied in detect mode as pending, a new resource included", async () => {
    repo.commit(
      {
        "site.json": JSON.stringify({
          "index.html": "<h1>v2</h1>",
          "about.html": "<p>about</p>",
          "new.html": "<p>new</p>",
        }),
      },
      "v2",
    );
    const run = await reconciler.reconcile("watch", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    const inventory = await reconciler.resources("watch");
    expect(inventory?.runId).toBe(run.id);
    const pages = new Map(files(inventory?.resources ?? []).map((r) => [r.name, r]));
    expect(pages.get("index.html")).toMatchObject({ sync: "pending", pendingOp: "update" });
    // Drift comes first: the hand edit is still there, whatever Git would change.
    expect(pages.get("about.html")?.sync).toBe("drifted");
    const stack = inventory?.resources.find((r) => r.type === "pulumi:pulumi:Stack");
    expect(pages.get("new.html")).toMatchObject({
      parent: stack?.urn,
      sync: "pending",
      pendingOp: "create",
      health: { status: "Unknown", reason: "not created yet" },
    });
    expect(existsSync(join(outDir, "new.html"))).toBe(false);
  });
});
