import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { PROVENANCE_ENV } from "./constants.js";
import { resolveProvenance } from "./provenance.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "driftless-prov-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
}

describe("provenance without the reconciler", { timeout: 30_000 }, () => {
  it("takes the commit, origin (without credentials) and path from the local Git checkout", () => {
    const repo = tempDir();
    git(repo, "init", "-q", "-b", "main");
    git(repo, "remote", "add", "origin", "https://x-token:s3cret@github.com/acme/infra.git");
    const program = join(repo, "stacks", "app");
    mkdirSync(program, { recursive: true });
    writeFileSync(join(program, "index.ts"), "export {};\n");
    git(repo, "add", ".");
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init");
    const warn = vi.fn();
    const p = resolveProvenance({ env: {}, stack: "dev", git: { cwd: program }, warn });
    expect(p).toEqual({
      repo: "https://github.com/acme/infra.git",
      commit: git(repo, "rev-parse", "HEAD"),
      path: "stacks/app",
      stack: "dev",
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("prefers what the reconciler passes, and never asks Git with `git: false`", () => {
    const commit = "b".repeat(40);
    const outside = tempDir();
    const warn = vi.fn();
    expect(
      resolveProvenance({
        env: { [PROVENANCE_ENV.commit]: commit },
        stack: "s",
        git: { cwd: outside },
        warn,
      }),
    ).toEqual({
      commit,
      stack: "s",
    });
    expect(resolveProvenance({ env: {}, stack: "s", git: false, warn })).toEqual({ stack: "s" });
    expect(warn).not.toHaveBeenCalled();
  });

  it("warns once, naming the variable and the directory, when there is no checkout", () => {
    const outside = tempDir();
    const warn = vi.fn();
    expect(resolveProvenance({ env: {}, stack: "s", git: { cwd: outside }, warn })).toEqual({ stack: "s" });
    resolveProvenance({ env: {}, stack: "s", git: { cwd: outside }, warn });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain(`${PROVENANCE_ENV.commit} is not set`);
    expect(warn.mock.calls[0]?.[0]).toContain(`${outside} is not inside a Git checkout`);
  });
});
