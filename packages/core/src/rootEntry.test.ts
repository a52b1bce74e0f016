// The package root must load no optional peer: a Kubernetes-only project has
// no `@pulumi/aws`, an AWS-only one no `@pulumi/kubernetes`. This test builds
// the package (transpiled, as `tsc` emits it) into a fresh project outside the
// workspace where only `@pulumi/pulumi` is installed, and lets Node resolve
// the imports for real.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
let project: string;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") && !/\.test(-d)?\.ts$/.test(e.name) ? [path] : [];
  });
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "driftless-root-entry-"));
  const installed = join(project, "node_modules", "@driftless", "core");
  for (const file of sources(join(packageDir, "src"))) {
    const out = join(installed, "dist", relative(join(packageDir, "src"), file).replace(/\.ts$/, ".js"));
    mkdirSync(dirname(out), { recursive: true });
    const { outputText } = ts.transpileModule(readFileSync(file, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    writeFileSync(out, outputText);
  }
  cpSync(join(packageDir, "package.json"), join(installed, "package.json"));
  // Only the required peer is installed.
  const pulumiDir = dirname(
    createRequire(join(packageDir, "package.json")).resolve("@pulumi/pulumi/package.json"),
  );
  mkdirSync(join(project, "node_modules", "@pulumi"), { recursive: true });
  symlinkSync(pulumiDir, join(project, "node_modules", "@pulumi", "pulumi"), "dir");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "k8s-only", type: "module", private: true }),
  );
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

function importIn(specifier: string): { ok: true; exports: string[] } | { ok: false; error: string } {
  const script = `import(${JSON.stringify(specifier)}).then(
    (m) => console.log("RESULT " + JSON.stringify({ ok: true, exports: Object.keys(m).sort() })),
    (e) => console.log("RESULT " + JSON.stringify({ ok: false, error: String(e.message) })),
  )`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: project,
    encoding: "utf8",
  });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`no result from node:\n${out}`);
  return JSON.parse(line.slice("RESULT ".length));
}

// Each case starts Node and loads the Pulumi SDK, slow on a loaded machine.
describe("the package root without the optional peers", { timeout: 120_000 }, () => {
  it("loads with neither @pulumi/aws nor @pulumi/kubernetes installed", () => {
    const root = importIn("@driftless/core");
    expect(root).toMatchObject({ ok: true });
    expect(root.ok && root.exports).toEqual(
      expect.arrayContaining([
        "enableGuardrails",
        "enableProvenance",
        "DEPENDENCY_CONFIG_PREFIX",
        "ValidationError",
      ]),
    );
    expect(importIn("@driftless/core/testing")).toMatchObject({ ok: true });
    expect(importIn("@driftless/core/policy")).toMatchObject({ ok: true });
  });

  it("fails on the subpaths that need a missing peer, naming it", () => {
    const aws = importIn("@driftless/core/aws");
    expect(aws.ok).toBe(false);
    expect(!aws.ok && aws.error).toContain("Cannot find package '@pulumi/aws'");
    const k8s = importIn("@driftless/core/k8s");
    expect(!k8s.ok && k8s.error).toContain("Cannot find package '@pulumi/kubernetes'");
  });
});
