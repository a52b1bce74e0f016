// What a process embedding @driftless/gitops loads before it needs it: a
// reconciler that only decides unchanged targets never starts the engine,
// serves no dashboard and reads no YAML, so importing the package and creating
// a reconciler leave the Automation API (the whole Pulumi SDK), the YAML
// parser, Octokit, prom-client and Node's bundled undici (which an ES import
// of `node:http` pulls in through its WebSocket getter) unloaded: each is
// megabytes of every replica's memory (bench/replicas.ts). (An HTTP handler
// makes its metrics, and so loads prom-client, when it is created.)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as nodeModule from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const CHILD = `
import { registerHooks } from "node:module";
const loaded = new Set();
registerHooks({ load(url, context, next) { loaded.add(url); return next(url, context); } });
const { Reconciler } = await import("@driftless/gitops");
const reconciler = await Reconciler.create({ dataDir: process.argv[1], targets: [] });
reconciler.start();
await reconciler.stop({ graceMs: 100 });
process.stdout.write(JSON.stringify({ urls: [...loaded], builtins: process.moduleLoadList }));
`;

describe("importing @driftless/gitops and creating a reconciler", () => {
  it("loads no engine, YAML, Octokit, metrics or undici code", () => {
    // The bootstrap provides Node 24; module.registerHooks (Node >= 22.15) watches what loads.
    expect("registerHooks" in nodeModule, `Node ${process.version} has no module.registerHooks`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "driftless-lazy-"));
    try {
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD, join(dir, "data")], {
        cwd: import.meta.dirname,
        encoding: "utf8",
        env: { ...process.env, DRIFTLESS_LOG_LEVEL: "silent" },
      });
      expect(child.status, child.stderr).toBe(0);
      const { urls, builtins } = JSON.parse(child.stdout) as { urls: string[]; builtins: string[] };
      // The hook sees what it should: the package itself and its store.
      expect(urls.some((u) => u.includes("/gitops/dist/reconciler.js"))).toBe(true);
      expect(urls.some((u) => u.includes("better-sqlite3"))).toBe(true);
      const heavy = urls.filter((u) => /\/(@pulumi|yaml|@octokit|prom-client|pino-pretty)\//.test(u));
      expect(heavy).toEqual([]);
      expect(builtins.filter((b) => b.includes("undici"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
