// An embedded reconciler is a guest in its host's process: without a logger
// of the host's it writes nothing to stdout and only warnings and errors to
// stderr, through a whole run on the real engine.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

/** Embeds a reconciler without a logger, runs the target once and reports only the run's result. */
const HOST = fileURLToPath(new URL("./support/quietHost.mjs", import.meta.url));

describe("an embedded reconciler without a logger", () => {
  let sandbox: EngineSandbox;

  beforeAll(() => {
    sandbox = engineSandbox("driftless-quiet-");
  });
  afterAll(() => sandbox?.dispose());

  it("writes nothing to stdout and no info lines to stderr during a run", async () => {
    const repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({}, "site v1");
    const target = {
      name: "site",
      repo: repo.fileUrl,
      passphrase: "test-passphrase",
      stack: "dev",
      config: { outDir: join(sandbox.dir, "site") },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    };
    // The default level decides here, not a DRIFTLESS_LOG_LEVEL of the test's environment.
    const { DRIFTLESS_LOG_LEVEL: _level, ...hostEnv } = process.env;
    const child = spawn(
      process.execPath,
      [HOST, JSON.stringify({ dataDir: join(sandbox.dir, "data"), target })],
      { env: hostEnv, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("HOST-RESULT applied");
    expect(stdout).toBe("");
    // pino's info level is 30: the run's "run applied" line must not be written.
    expect(stderr).not.toMatch(/"level":30/);
    expect(stderr.replace(/HOST-RESULT \w+\n/, "")).toBe("");
  }, 120_000);
});
