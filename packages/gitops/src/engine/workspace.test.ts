import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StalledError } from "../errors.js";
import { prepareDependencies } from "./workspace.js";

// npm must not reach out to the registry for update checks or audits.
const env = {
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_audit: "false",
  npm_config_fund: "false",
};

describe("prepareDependencies", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-workspace-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const writePackage = (extra: Record<string, unknown> = {}) =>
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "prog", version: "1.0.0", private: true, ...extra }),
    );

  it("does nothing without a package.json", async () => {
    writeFileSync(join(dir, "Pulumi.yaml"), "name: x\nruntime: nodejs\n");
    expect(await prepareDependencies(dir, { env })).toEqual({ action: "none" });
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  });

  it("installs from the lockfile, reuses the install, and installs again when the lockfile changes", async () => {
    writePackage();
    execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, env, stdio: "ignore" });
    const lockfile = join(dir, "package-lock.json");
    expect(existsSync(lockfile)).toBe(true);

    expect(await prepareDependencies(dir, { env })).toEqual({
      action: "installed",
      lockfile: "package-lock.json",
    });
    expect(readFileSync(join(dir, "node_modules", ".driftless-lock-hash"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
    expect(await prepareDependencies(dir, { env })).toEqual({
      action: "reused",
      lockfile: "package-lock.json",
    });

    // A new version in package.json and lockfile: what `npm install` writes after a bump.
    writePackage({ version: "1.0.1" });
    const lock = JSON.parse(readFileSync(lockfile, "utf8"));
    lock.version = "1.0.1";
    lock.packages[""].version = "1.0.1";
    writeFileSync(lockfile, JSON.stringify(lock, null, 2));
    expect(await prepareDependencies(dir, { env })).toEqual({
      action: "installed",
      lockfile: "package-lock.json",
    });
    expect(await prepareDependencies(dir, { env })).toEqual({
      action: "reused",
      lockfile: "package-lock.json",
    });
  });

  it("reuses an install from a bare package.json without rewriting the checkout", async () => {
    writePackage();
    expect(await prepareDependencies(dir, { env })).toEqual({
      action: "installed",
      lockfile: "package.json",
    });
    // The install must not leave a lockfile behind that changes what the next call sees.
    expect(existsSync(join(dir, "package-lock.json"))).toBe(false);
    expect(await prepareDependencies(dir, { env })).toEqual({ action: "reused", lockfile: "package.json" });
  });

  it("stalls with the package manager's complaint when the install fails", async () => {
    writeFileSync(join(dir, "package.json"), "{ not json");
    const attempt = prepareDependencies(dir, { env });
    await expect(attempt).rejects.toBeInstanceOf(StalledError);
    await expect(attempt).rejects.toMatchObject({
      reason: "DependenciesFailed",
      message: expect.stringMatching(
        /^`npm install --no-audit --no-fund --no-package-lock` failed in .*JSON/,
      ),
    });
    expect(existsSync(join(dir, "node_modules", ".driftless-lock-hash"))).toBe(false);
  });

  it("gives install scripts the allowlisted environment only, never this process's secrets", async () => {
    // The install script is the repository's code: it records what it can read.
    writePackage({
      scripts: {
        preinstall: `node -e "require('fs').writeFileSync('seen.json', JSON.stringify(process.env))"`,
      },
    });
    const added = {
      DRIFTLESS_WORKSPACE_TEST_TOKEN: "service-token-value",
      npm_config_update_notifier: "false",
      npm_config_audit: "false",
      npm_config_fund: "false",
    };
    Object.assign(process.env, added);
    try {
      expect(await prepareDependencies(dir)).toEqual({ action: "installed", lockfile: "package.json" });
    } finally {
      for (const name of Object.keys(added)) delete process.env[name];
    }
    const seen = JSON.parse(readFileSync(join(dir, "seen.json"), "utf8")) as Record<string, string>;
    expect(seen.DRIFTLESS_WORKSPACE_TEST_TOKEN).toBeUndefined();
    expect(seen.PATH).toContain(process.env.PATH);
    expect(seen.HOME).toBe(process.env.HOME);
  });
});
