// `driftless serve` and `driftless reconcile` as real OS processes on one data
// directory: the second is refused with a message naming the holder, the lock
// dies with its process (even on SIGKILL), and a server whose configured token
// cannot be read refuses to start.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRepo } from "./support/git.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));
const TOKEN_ENV = "DRIFTLESS_SERVE_TEST_TOKEN";

interface Exited {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

class Cli {
  readonly proc: ChildProcess;
  stderr = "";
  stdout = "";
  readonly exited: Promise<Exited>;

  constructor(
    args: readonly string[],
    env: Record<string, string | undefined> = {},
    command: readonly string[] = [process.execPath, CLI],
  ) {
    const [file = process.execPath, ...head] = command;
    this.proc = spawn(file, [...head, ...args], {
      env: { ...process.env, [TOKEN_ENV]: "serve-test-token", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.proc.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.proc.on("close", (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  /** Resolves once stderr matches; rejects if the process exits first. */
  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.stderr);
      if (match) return match;
      const exited = await Promise.race([
        this.exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
      ]);
      if (exited) {
        const late = pattern.exec(this.stderr);
        if (late) return late;
        throw new Error(`exited ${exited.code} before ${pattern}; stderr:\n${exited.stderr}`);
      }
    }
  }
}

describe("driftless serve", () => {
  let dir: string;
  const running: Cli[] = [];
  const run = (args: readonly string[], env?: Record<string, string | undefined>) => {
    const cli = new Cli(args, env);
    running.push(cli);
    return cli;
  };
  const config = (name: string, settings: Record<string, unknown>) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ dataDir: "data", listen: "127.0.0.1:0", ...settings }));
    return file;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-serve-"));
  });
  afterEach(async () => {
    for (const cli of running.splice(0)) {
      if (cli.proc.exitCode === null && cli.proc.signalCode === null) cli.proc.kill("SIGKILL");
      await cli.exited;
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a second process on its data directory, and the lock dies with its holder", async () => {
    const file = config("lock.yaml", { tokens: [{ env: TOKEN_ENV }] });
    const first = run(["serve", "--config", file]);
    await first.waitFor(/listening on http/);

    const second = await run(["serve", "--config", file]).exited;
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `data directory ${join(dir, "data")} is in use by another driftless process`,
    );
    expect(second.stderr).toContain(`pid ${first.proc.pid} on`);
    expect(second.stderr).not.toContain("listening on");

    const reconcile = await run(["reconcile", "site", "--config", file]).exited;
    expect(reconcile.code).toBe(1);
    expect(reconcile.stderr).toContain("is in use by another driftless process");
    expect(reconcile.stderr).toContain("POST /targets/<name>/reconcile");

    // Reads go to the database directly and do not need the lock.
    const status = await run(["status", "--config", file]).exited;
    expect(status.code).toBe(0);

    // No clean-up runs on SIGKILL; the OS releases the lock anyway.
    first.proc.kill("SIGKILL");
    await first.exited;
    const third = run(["serve", "--config", file]);
    await third.waitFor(/listening on http/);
    third.proc.kill("SIGTERM");
    expect((await third.exited).code).toBe(0);
  });

  it("counts the targets `paths:` discovery found when it says it is listening", async () => {
    const repo = createRepo(join(dir, "mono"));
    repo.commit({
      "stacks/network/Pulumi.yaml": "name: network\nruntime: nodejs\n",
      "stacks/app/Pulumi.yaml": "name: app\nruntime: nodejs\n",
    });
    const file = config("discovered.yaml", {
      dataDir: "discovered-data",
      tokens: [{ env: TOKEN_ENV }],
      targets: [
        {
          name: "stacks",
          repo: repo.fileUrl,
          paths: "stacks/*",
          stack: "dev",
          passphrase: "p",
          suspend: true,
        },
      ],
    });
    const server = run(["serve", "--config", file]);
    await server.waitFor(/listening on http\S+ \(2 target\(s\)/);
    // The old anonymous token form still works, as an admin named after its position, with a warning.
    expect(server.stderr).toMatch(
      /WARNING: token-1 in `tokens` of \S+discovered\.yaml has no name and acts as admin/,
    );
    server.proc.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("stops when the npx that started it exits on SIGTERM, instead of running on re-parented", async () => {
    const file = config("npx.yaml", { dataDir: "npx-data", tokens: [{ env: TOKEN_ENV }] });
    // The real npx, as `npx driftless serve` runs it: npm, a shell, then node.
    const npx = new Cli(["serve", "--config", file], {}, ["npx", "--", process.execPath, CLI]);
    running.push(npx);
    await npx.waitFor(/listening on http/);
    const holder = readFileSync(join(dir, "npx-data", "driftless.lock.holder"), "utf8");
    const pid = Number(/^pid (\d+)/.exec(holder)?.[1]);
    expect(pid).not.toBe(npx.proc.pid);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      // npm's own exit: its output pipes stay open while the re-parented child holds them.
      const npmExited = new Promise((resolve) => npx.proc.once("exit", resolve));
      npx.proc.kill("SIGTERM");
      await npmExited;
      const deadline = Date.now() + 15_000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(alive()).toBe(false);
      // It shut down cleanly: the lock's holder note is gone with it.
      expect(existsSync(join(dir, "npx-data", "driftless.lock.holder"))).toBe(false);
    } finally {
      if (alive()) process.kill(pid, "SIGKILL");
    }
  });

  it("refuses to start when a configured token or webhook secret cannot be read, naming it", async () => {
    const file = config("tokens.yaml", {
      dataDir: "tokens-data",
      tokens: [{ env: TOKEN_ENV }, { file: "missing-token" }],
      webhooks: { github: { env: "DRIFTLESS_SERVE_TEST_HOOK" } },
    });
    const result = await run(["serve", "--config", file], { [TOKEN_ENV]: "" }).exited;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to start");
    expect(result.stderr).toContain(`tokens[0]: environment variable ${TOKEN_ENV} is empty`);
    expect(result.stderr).toContain(`tokens[1]: cannot read ${join(dir, "missing-token")} (ENOENT)`);
    expect(result.stderr).toContain(
      "webhooks.github: environment variable DRIFTLESS_SERVE_TEST_HOOK is not set",
    );
    expect(existsSync(join(dir, "tokens-data"))).toBe(false);
  });

  it("warns loudly without any token, still serves webhooks and probes, and logs refusals", async () => {
    const hook = "DRIFTLESS_SERVE_TEST_HOOK_SET";
    const file = config("open.yaml", { dataDir: "open-data", webhooks: { generic: { env: hook } } });
    const server = run(["serve", "--config", file], { [hook]: "serve-test-hook-secret" });
    const [, url] = await server.waitFor(/listening on (http:\/\/\S+)/);
    expect(server.stderr).toContain("WARNING: no API token is configured");
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/targets`)).status).toBe(401);
    const forged = await fetch(`${url}/hooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": "sha256=00" },
      body: "{}",
    });
    expect(forged.status).toBe(401);
    await server.waitFor(/webhook with a missing or wrong signature refused/);
    expect(server.stderr).not.toContain("serve-test-hook-secret");
    server.proc.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });
});
