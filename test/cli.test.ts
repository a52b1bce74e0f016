// The `driftless` command as a child process against a real Git repository and
// the real engine: reconcile, preview, status, history, serve and its shutdown.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunRecord, SqliteStore, type TargetStatus } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, git, type TestRepo } from "./support/git.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const TOKEN = "cli-token-3c8e1f";

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function start(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, DRIFTLESS_TEST_TOKEN: TOKEN, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function finished(child: ChildProcess): Promise<Result> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

const driftless = (...args: string[]) => finished(start(args));

/** Resolves once the child's stderr matches, with the match. */
function waitFor(child: ChildProcess, pattern: RegExp, timeoutMs = 240_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; stderr:\n${seen}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      seen += d.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve(match);
      }
    };
    child.stderr?.on("data", onData);
  });
}

/** Every file under a directory, relative, sorted. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

describe("the driftless CLI", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let outDir: string;
  let dataDir: string;
  let configFile: string;
  let first: string;

  const writeConfig = (target: Record<string, unknown> = {}) => {
    const spec = {
      name: "site",
      repo: repo.fileUrl,
      ref: "main",
      stack: "dev",
      passphrase: "test-passphrase",
      config: { outDir },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
      interval: "1h",
      resync: "1h",
      ...target,
    };
    // JSON is YAML; the config holds no secret values, only where to find them.
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          dataDir: "data",
          listen: "127.0.0.1:0",
          installDependencies: false,
          tokens: [{ env: "DRIFTLESS_TEST_TOKEN" }],
          targets: [spec],
        },
        null,
        2,
      ),
    );
  };
  const stateDir = () => join(dataDir, "state", ".pulumi");

  beforeAll(() => {
    sandbox = engineSandbox();
    outDir = join(sandbox.dir, "site");
    dataDir = join(sandbox.dir, "data");
    configFile = join(sandbox.dir, "driftless.yaml");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: join(FIXTURES, "serve-program") });
    writeFileSync(join(repo.work, "localFile.cjs"), readFileSync(join(FIXTURES, "localFile.cjs")));
    first = repo.commit({}, "site v1");
    writeConfig();
  });

  afterAll(() => sandbox?.dispose());

  it("names the file, key and value of a config error", async () => {
    const bad = join(sandbox.dir, "bad.yaml");
    writeFileSync(
      bad,
      `dataDir: data\ntargets:\n  - name: site\n    repo: ${repo.fileUrl}\n    stack: dev\n    interval: 5s\n`,
    );
    const result = await driftless("status", "--config", bad);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("bad.yaml: targets[0].interval must be at least 10s");
    expect(result.stderr).toContain('got "5s"');
    expect((await driftless("no-such-command")).code).toBe(64);
  });

  it("shows targets that never ran", async () => {
    const result = await driftless("status", "--config", configFile);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TARGET\s+READY\s+REASON/);
    expect(result.stdout).toMatch(/^site\s+unknown\s+NeverRun/m);
  });

  it("reconciles a target now, with progress on stderr", async () => {
    const result = await driftless("reconcile", "site", "--config", configFile);
    expect(result.stderr).toMatch(/\[preview\]/);
    expect(result.stderr).toMatch(/\[engine\] done {2}create index\.html/);
    expect(result.stdout).toBe(`site: applied at ${first.slice(0, 12)} (2 create)\n`);
    expect(result.code).toBe(0);
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v1</h1>");
  });

  it("exits 2 when a detect-mode target finds drift", async () => {
    writeConfig({ mode: "detect" });
    writeFileSync(join(outDir, "about.html"), "defaced");
    const result = await driftless("reconcile", "site", "--config", configFile, "--json");
    writeConfig();
    expect(result.code).toBe(2);
    expect((JSON.parse(result.stdout) as RunRecord).result).toBe("drift-detected");
    expect(readFileSync(join(outDir, "about.html"), "utf8")).toBe("defaced");
  });

  it("refuses an approval with nothing waiting, and starts no run", async () => {
    const before = await driftless("history", "site", "--config", configFile, "--json");
    const result = await driftless(
      "approve",
      "site",
      "--by",
      "alice",
      "--reason",
      "ok",
      "--config",
      configFile,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('target "site" has no revision waiting for approval');
    const after = await driftless("history", "site", "--config", configFile, "--json");
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));
  });

  it("suspends and resumes a target, recording who and why in its status", async () => {
    const suspended = await driftless(
      "suspend",
      "site",
      "--by",
      "alice",
      "--reason",
      "database migration",
      "--config",
      configFile,
    );
    expect(suspended.stdout).toBe("site: scheduled runs suspended by alice: database migration\n");
    expect(suspended.code).toBe(0);
    const status = await driftless("status", "site", "--config", configFile, "--json");
    const site = JSON.parse(status.stdout) as TargetStatus;
    expect(site?.suspension).toMatchObject({ suspended: true, by: "alice", reason: "database migration" });
    expect(site?.conditions).toContainEqual(
      expect.objectContaining({
        type: "Suspended",
        status: true,
        message: "scheduled runs are suspended by alice: database migration",
      }),
    );
    expect((await driftless("resume", "site", "--config", configFile)).code).toBe(64);
    const resumed = await driftless("resume", "site", "--reason", "done", "--config", configFile, "--json");
    expect((JSON.parse(resumed.stdout) as TargetStatus).suspension).toMatchObject({
      suspended: false,
      reason: "done",
    });
  });

  it("lists status and history as tables and JSON", async () => {
    const status = await driftless("status", "site", "--config", configFile);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`^site\\s+true\\s+Applied\\s+${first.slice(0, 12)}\\s+\\S+ ago\\s+true\\s+false`, "m"),
    );
    const table = await driftless("history", "site", "--config", configFile, "--limit", "5");
    expect(table.stdout.split("\n")[0]).toMatch(
      /^RUN\s+TRIGGER\s+RESULT\s+REVISION\s+STARTED\s+DURATION\s+CHANGES/,
    );
    expect(table.stdout).toMatch(/manual\s+drift-detected/);
    expect(table.stdout).toMatch(/manual\s+applied\s+/);
    const json = await driftless("history", "site", "--config", configFile, "--json", "--limit", "1");
    expect((JSON.parse(json.stdout) as RunRecord[]).map((r) => r.result)).toEqual(["drift-detected"]);
  });

  it("prints a run's log by id, by the prefix history shows, or by target", async () => {
    const [newest] = JSON.parse(
      (await driftless("history", "site", "--config", configFile, "--json", "--limit", "1")).stdout,
    ) as RunRecord[];
    const id = (newest as RunRecord).id;
    const byId = await driftless("logs", id, "--config", configFile);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toMatch(/\[preview\] refresh and preview\n/);
    expect(byId.stdout).not.toMatch(/__provider|\] debug: /);
    expect((await driftless("logs", id.slice(0, 8), "--config", configFile)).stdout).toBe(byId.stdout);
    expect((await driftless("logs", "site", "--follow", "--config", configFile)).stdout).toBe(byId.stdout);
    const unknown = await driftless("logs", "nope", "--config", configFile);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no run "nope"');
  });

  it("previews a branch as Markdown without touching the stack", async () => {
    git(repo.work, "checkout", "--quiet", "-b", "feature");
    writeFileSync(
      join(repo.work, "site.json"),
      '{ "index.html": "<h1>feature</h1>", "about.html": "<p>about</p>" }',
    );
    git(repo.work, "commit", "--quiet", "-am", "feature");
    git(repo.work, "push", "--quiet", "origin", "feature");
    git(repo.work, "checkout", "--quiet", "main");
    const stacksBefore = files(join(stateDir(), "stacks"));
    const checkpoint = join(stateDir(), "stacks", "site", "dev.json");
    const before = readFileSync(checkpoint);

    const result = await driftless("preview", "site", "--ref", "feature", "--config", configFile);
    expect(result.stderr).toMatch(/\[resolve\] feature is at [0-9a-f]{40}/);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("<!-- driftless-preview:site -->");
    expect(result.stdout).toMatch(/\| Create \| Update \| Replace \| Delete \| Unchanged \|/);
    // A resource's line, each followed by its changed properties' lines (about.html too, defaced above).
    expect(result.stdout).toMatch(/\*\*To update\*\* \(\d\)\n\n(( {2})?- .*\n)*- `index\.html`/);
    // The property the engine reports changed, old and new, and the gates' verdict.
    expect(result.stdout).toContain('  - `content`: `"<h1>v1</h1>"` → `"<h1>feature</h1>"`');
    expect(result.stdout).toContain("Safety gates: pass.");

    expect(readFileSync(checkpoint).equals(before)).toBe(true);
    expect(files(join(stateDir(), "stacks"))).toEqual(stacksBefore);
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v1</h1>");
  });

  it("cancels a run on SIGTERM without leaving the stack locked, and the next start reconciles", async () => {
    // A new page means a create, which the fixture delays, so SIGTERM lands mid-update.
    const next = repo.commit(
      { "site.json": '{ "index.html": "<h1>v2</h1>", "about.html": "<p>about</p>", "slow.html": "slow" }' },
      "v2 with a slow page",
    );
    // The cancel waits for the creates in flight: 4 s of them is margin enough for the SIGTERM.
    writeConfig({ config: { outDir, delayMs: "4000" } });
    const serve = start(["serve", "--config", configFile, "--grace", "1s"], { DRIFTLESS_LOG_LEVEL: "debug" });
    const exited = finished(serve);
    // The preview reports the create too; wait for the one inside `up`.
    await waitFor(serve, /"step":"apply"[\s\S]*start create urn:\S+::slow\.html/);
    // Another process follows the run's log from the store while the server runs it.
    const following = driftless("logs", "site", "--follow", "--config", configFile);
    serve.kill("SIGTERM");
    const result = await exited;
    const followed = await following;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/\[apply\] up\n[\s\S]*start create urn:\S+::slow\.html/);
    expect(followed.stderr).toMatch(/^run \S+ cancelled$/m);
    const tail = result.stderr.split("\n").slice(-8).join("\n");
    expect(result.code, tail).toBe(3);
    expect(result.stderr).toContain("SIGTERM: shutting down");
    expect(files(join(stateDir(), "locks")).filter((f) => f.endsWith(".json"))).toEqual([]);
    const cancelled = (await driftless("history", "site", "--config", configFile, "--json", "--limit", "1"))
      .stdout;
    expect((JSON.parse(cancelled) as RunRecord[])[0]?.result).toBe("cancelled");

    writeConfig();
    const again = start(["serve", "--config", configFile]);
    const exitedAgain = finished(again);
    const [, url] = await waitFor(again, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    let status: { status?: { lastAppliedRevision?: string } } = {};
    for (let i = 0; i < 600 && status.status?.lastAppliedRevision !== next; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const res = await fetch(`${url}/targets/site`, { headers: { authorization: `Bearer ${TOKEN}` } });
      status = (await res.json()) as typeof status;
    }
    expect(status.status?.lastAppliedRevision).toBe(next);
    expect(readFileSync(join(outDir, "slow.html"), "utf8")).toBe("slow");
    again.kill("SIGTERM");
    const clean = await exitedAgain;
    expect(clean.stderr).toContain("stopped cleanly");
    expect(clean.code).toBe(0);
  });

  it("promotes, lists promotions and refuses a rollback with nothing to go back to", async () => {
    const applied = (
      JSON.parse((await driftless("status", "site", "--config", configFile, "--json")).stdout) as {
        lastAppliedRevision: string;
      }
    ).lastAppliedRevision;
    const config = join(sandbox.dir, "promote.yaml");
    const base = {
      repo: repo.fileUrl,
      passphrase: "test-passphrase",
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
      interval: "1h",
      resync: "1h",
    };
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: "data",
        installDependencies: false,
        targets: [
          { ...base, name: "site", stack: "dev", config: { outDir } },
          {
            ...base,
            name: "prod",
            stack: "prod",
            config: { outDir: join(sandbox.dir, "prod") },
            promote: { from: "site", after: "1h" },
          },
        ],
      }),
    );
    const promoted = await driftless(
      "promote",
      "prod",
      "--reason",
      "ship it",
      "--by",
      "carol",
      "--config",
      config,
    );
    expect(promoted.stderr).toContain(`promoted prod to ${applied.slice(0, 12)} (from nothing)`);
    expect(promoted.stdout).toMatch(new RegExp(`^prod: applied at ${applied.slice(0, 12)}`));
    expect(promoted.code).toBe(0);
    expect(readFileSync(join(sandbox.dir, "prod", "slow.html"), "utf8")).toBe("slow");

    const listed = await driftless("promotions", "prod", "--config", config, "--json");
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { kind: "manual", source: "site", revision: applied, by: "carol", reason: "ship it" },
    ]);
    const table = await driftless("promotions", "prod", "--config", config);
    expect(table.stdout).toMatch(/^AT\s+KIND\s+FROM\s+REVISION/);
    expect(table.stdout).toMatch(/manual\s+site\s+[0-9a-f]{12}\s+-\s+carol\s+ship it/);

    const rollback = await driftless("rollback", "prod", "--reason", "oops", "--config", config);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toContain('cannot roll "prod" back: it has applied no other revision');
    const missing = await driftless("promote", "prod", "--config", config);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("required option '--reason <text>' not specified");
    // approve records who (the OS user by default) and so needs why as well.
    const unexplained = await driftless("approve", "prod", "--config", config);
    expect(unexplained.code).toBe(64);
    expect(unexplained.stderr).toContain("required option '--reason <text>' not specified");
  });

  it("stalls, naming the variable, when the passphrase variable is missing", async () => {
    const variable = "DRIFTLESS_CLI_TEST_UNSET_PASSPHRASE";
    writeConfig({ passphrase: { env: variable } });
    const result = await driftless("reconcile", "site", "--config", configFile);
    writeConfig();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(`^site: stalled.*\npassphrase: environment variable ${variable} is not set`),
    );
    const status = JSON.parse(
      (await driftless("status", "site", "--config", configFile, "--json")).stdout,
    ) as {
      conditions: { type: string; status: boolean; reason: string; message: string }[];
    };
    expect(status.conditions).toContainEqual(
      expect.objectContaining({ type: "Stalled", status: true, reason: "InvalidConfig" }),
    );
  });
});

describe("the driftless CLI before anything ran", () => {
  let dir: string;
  const inDir = (...args: string[]) =>
    finished(
      spawn(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "DRIFTLESS_CONFIG")),
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-cli-fresh-"));
    writeFileSync(
      join(dir, "driftless.yaml"),
      [
        "dataDir: data",
        "targets:",
        "  - name: site",
        "    repo: https://example.com/site.git",
        "    stack: dev",
        "  - name: stacks",
        "    repo: https://example.com/mono.git",
        "    paths: stacks/*",
        "    stack: dev",
        "",
      ].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints its version, and explains the change counts in --help", async () => {
    const manifest = JSON.parse(
      readFileSync(new URL("../packages/gitops/package.json", import.meta.url), "utf8"),
    ) as { version: string };
    const version = await inDir("--version");
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`${manifest.version}\n`);
    const help = await inDir("--help");
    expect(help.stdout).toContain("+N create  ~N update  ±N replace  -N delete");
  });

  it("reads status without creating the data directory", async () => {
    const result = await inDir("status");
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^site\s+unknown\s+NeverRun/m);
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, "data"))).toBe(false);
    expect((await inDir("history", "site")).code).toBe(0);
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  it("resolves a relative --config against the current directory and shows the path it tried", async () => {
    const result = await inDir("status", "--config", "elsewhere/driftless.yaml");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot be read at ${join(dir, "elsewhere", "driftless.yaml")} (ENOENT)`);
  });

  it("knows the targets that `paths:` discovery expanded into", async () => {
    const store = new SqliteStore(join(dir, "data", "driftless.db"));
    const at = new Date().toISOString();
    await store.putStatus({
      name: "stacks-network",
      conditions: [{ type: "Ready", status: true, reason: "Applied", message: "applied", since: at }],
      lastAppliedRevision: "a".repeat(40),
      updatedAt: at,
    });
    store.close();
    const one = await inDir("status", "stacks-network");
    expect(one.stderr).toBe("");
    expect(one.stdout).toMatch(/^stacks-network\s+true\s+Applied\s+aaaaaaaaaaaa/m);
    expect((await inDir("status")).stdout).toMatch(/^stacks-network\s+true/m);
    expect((await inDir("history", "stacks-network")).code).toBe(0);
    expect((await inDir("promotions", "stacks-network")).code).toBe(0);
    const unknown = await inDir("status", "stacks-nope");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown target "stacks-nope"');
    expect(unknown.stderr).toContain("known: site, stacks-network");
  });
});
