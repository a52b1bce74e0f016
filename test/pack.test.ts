// The packages as a user gets them: `pnpm pack` tarballs installed with npm
// into a fresh project outside the workspace, a Pulumi program using
// @driftless/core, and the `driftless` command of that project reconciling it
// on the real engine.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunRecord, TargetStatus } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PACKAGES = { core: join(ROOT, "packages", "core"), gitops: join(ROOT, "packages", "gitops") };
/** The engine's SDK, pinned like the workspace's; npm must fetch exactly this one. */
const PULUMI_VERSION = "3.259.0";

/**
 * npm's download cache: under the toolchain cache when there is one, so a
 * second `make test` installs from disk; npm's cache is content-addressed and
 * safe to share between runs.
 */
const NPM_CACHE = join(process.env.DRIFTLESS_CACHE ?? tmpdir(), "npm-pack-test");

/**
 * The environment of the user's shell: none of the variables pnpm and vitest
 * set for the workspace (a NODE_PATH pointing into it would hide a missing
 * dependency), but the registry settings of this machine.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        key !== "NODE_PATH" &&
        !key.startsWith("VITEST") &&
        !/^pnpm_/i.test(key) &&
        (!/^npm_/i.test(key) || /^npm_config_(registry|.*proxy|cafile|strict_ssl)$/i.test(key)),
    ),
  );
  return { ...env, ...extra };
}

/** Runs a command to completion; its output is in the error when it fails. */
function exec(command: string, args: readonly string[], cwd: string, env = userEnv()): string {
  try {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}`);
  }
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Result> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
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

const PROGRAM = {
  "Pulumi.yaml":
    "name: packed\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
  "package.json": `${JSON.stringify({ name: "packed-program", private: true, type: "module" }, null, 2)}\n`,
  "index.js": [
    'import * as pulumi from "@pulumi/pulumi";',
    'import { enableGuardrails } from "@driftless/core/policy";',
    'import { enableProvenance } from "@driftless/core/provenance";',
    "",
    "const { provenance } = enableProvenance();",
    "enableGuardrails();",
    "",
    "class Site extends pulumi.ComponentResource {",
    "  constructor(name) {",
    '    super("packed:index:Site", name, {}, {});',
    "    this.registerOutputs({});",
    "  }",
    "}",
    'new Site("site");',
    "",
    "export const commit = provenance.commit;",
    "export const stack = provenance.stack;",
    "",
  ].join("\n"),
};

describe("the packed packages in a project outside the workspace", () => {
  let dir: string;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let project: string;
  const tarballs: Record<keyof typeof PACKAGES, string> = { core: "", gitops: "" };
  const contents: Record<keyof typeof PACKAGES, string[]> = { core: [], gitops: [] };

  beforeAll(() => {
    // Outside the workspace, so nothing resolves through its node_modules.
    dir = mkdtempSync(join(tmpdir(), "driftless-pack-"));
    sandbox = engineSandbox("driftless-pack-engine-");
    const dest = join(dir, "tarballs");
    for (const [name, path] of Object.entries(PACKAGES) as [keyof typeof PACKAGES, string][]) {
      const out = exec("pnpm", ["pack", "--pack-destination", dest], path).trim().split("\n").at(-1) ?? "";
      tarballs[name] = out.startsWith("/") ? out : join(dest, out);
      contents[name] = exec("tar", ["-tzf", tarballs[name]], dir)
        .split("\n")
        .filter(Boolean)
        .map((f) => f.replace(/^package\//, ""));
    }
  }, 120_000);

  afterAll(() => {
    sandbox?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("packs only what users need", () => {
    for (const files of Object.values(contents)) {
      expect(files).toEqual(
        expect.arrayContaining(["package.json", "README.md", "LICENSE", "dist/index.js"]),
      );
      expect(files).toContain("dist/index.d.ts");
      expect(files.filter((f) => /\.test(-d)?\.|tsbuildinfo|(^|\/)test\//.test(f))).toEqual([]);
    }
    expect(contents.gitops).toContain("dist/cli/main.js");
    const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
    expect(license).toContain("Apache License\n                           Version 2.0");
    for (const [name, path] of Object.entries(PACKAGES)) {
      const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8")) as { license: string };
      expect(manifest.license, name).toBe("Apache-2.0");
      expect(readFileSync(join(path, "LICENSE"), "utf8"), name).toBe(license);
    }
  });

  it("installs with npm and reconciles a program using @driftless/core with its `driftless` command", async () => {
    repo = createRepo(join(dir, "repo"));
    const commit = repo.commit(PROGRAM, "a program using @driftless/core");

    project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "pack-test-project",
        private: true,
        type: "module",
        dependencies: {
          "@driftless/core": `file:${tarballs.core}`,
          "@driftless/gitops": `file:${tarballs.gitops}`,
          "@pulumi/pulumi": PULUMI_VERSION,
        },
      }),
    );
    exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--cache", NPM_CACHE], project);
    const pulumiManifest = JSON.parse(
      readFileSync(join(project, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
    ) as { version: string };
    expect(pulumiManifest.version).toBe(PULUMI_VERSION);

    // The declarations resolve through `exports` as a TypeScript user's would
    // (the workspace's compiler; the project's modules).
    writeFileSync(
      join(project, "check.ts"),
      [
        'import { type DriftlessConfig, loadConfig, Reconciler } from "@driftless/gitops";',
        'import { enableProvenance } from "@driftless/core/provenance";',
        'const config: DriftlessConfig = loadConfig("driftless.yaml");',
        "const reconciler: Promise<Reconciler> = Reconciler.create({ dataDir: config.dataDir });",
        "const commit: string | undefined = enableProvenance().provenance.commit;",
        "export { commit, reconciler };",
        "",
      ].join("\n"),
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const typecheck = (file: string) => {
      const options = { strict: true, skipLibCheck: true, module: "nodenext", noEmit: true, types: [] };
      writeFileSync(
        join(project, `${file}.json`),
        JSON.stringify({ compilerOptions: options, files: [file] }),
      );
      return exec(process.execPath, [tsc, "-p", `${file}.json`], project);
    };
    typecheck("check.ts");
    writeFileSync(
      join(project, "wrong.ts"),
      'import { NoSuchExport } from "@driftless/gitops";\nNoSuchExport;\n',
    );
    expect(() => typecheck("wrong.ts")).toThrowError(/has no exported member 'NoSuchExport'/);

    // The data directory lives in the project, so the checked-out program
    // resolves @pulumi/pulumi and @driftless/core from the project's
    // node_modules, as a program with its own package.json would from its own.
    writeFileSync(
      join(project, "driftless.yaml"),
      JSON.stringify({
        dataDir: "data",
        installDependencies: false,
        targets: [
          {
            name: "site",
            repo: repo.fileUrl,
            ref: "main",
            stack: "dev",
            passphrase: "pack-test-passphrase",
            env: sandbox.env,
            interval: "1h",
          },
        ],
      }),
    );
    const bin = join(project, "node_modules", ".bin", "driftless");
    expect(existsSync(bin)).toBe(true);
    const env = userEnv(sandbox.env);
    const version = await run(bin, ["--version"], project, env);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(PACKAGES.gitops, "package.json"), "utf8")) as { version: string })
        .version,
    );

    const reconciled = await run(
      bin,
      ["reconcile", "site", "--config", "driftless.yaml", "--json"],
      project,
      env,
    );
    expect(reconciled.code, reconciled.stderr).toBe(0);
    const record = JSON.parse(reconciled.stdout) as RunRecord;
    expect(record).toMatchObject({ result: "applied", revision: commit });

    const status = await run(bin, ["status", "site", "--json"], project, env);
    expect((JSON.parse(status.stdout) as TargetStatus).outputs).toMatchObject({ commit, stack: "dev" });
    expect(existsSync(join(project, "data", "state", ".pulumi", "stacks", "packed", "dev.json"))).toBe(true);
  });
});

describe("README's 'Install into your own project', as written", () => {
  let home: string | undefined;
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("packs, installs a toolchain outside the clone, and installs the packages with npm", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Install into your own project"));
    const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    expect(script).toContain("make pack");
    expect(script).toContain("make install-toolchain");
    home = mkdtempSync(join(tmpdir(), "driftless-readme-home-"));
    // A user's shell: the system's PATH (its Node may be old), none of the toolchain's.
    const cache = process.env.DRIFTLESS_CACHE ?? "";
    const systemPath = (process.env.PATH ?? "")
      .split(":")
      .filter((p) => p && !p.startsWith(ROOT) && !(cache && p.startsWith(cache)))
      .join(":");
    const out = execFileSync("bash", ["-euo", "pipefail", "-c", script], {
      cwd: ROOT,
      encoding: "utf8",
      env: userEnv({ HOME: home, PATH: systemPath, npm_config_cache: NPM_CACHE }),
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 16 * 1024 * 1024,
    });
    const manifest = JSON.parse(readFileSync(join(PACKAGES.gitops, "package.json"), "utf8")) as {
      version: string;
    };
    expect(out.trim().split("\n").at(-1)).toBe(manifest.version);
    expect(existsSync(join(ROOT, "dist", `driftless-gitops-${manifest.version}.tgz`))).toBe(true);
    expect(existsSync(join(home, "my-infra", "node_modules", "@driftless", "core", "package.json"))).toBe(
      true,
    );
    // The toolchain stands on its own: nothing in it points back into the clone.
    const prefix = join(home, ".driftless");
    for (const file of ["env", "bin/pulumi-resource-pulumi-nodejs"]) {
      expect(readFileSync(join(prefix, file), "utf8"), file).not.toContain(ROOT);
    }
    const node = execFileSync(join(prefix, "node", "bin", "node"), ["--version"], {
      encoding: "utf8",
    }).trim();
    const [major = 0, minor = 0] = node.slice(1).split(".").map(Number);
    expect(major > 22 || (major === 22 && minor >= 12), node).toBe(true);
    expect(existsSync(join(prefix, "pulumi", "bin", "pulumi-language-nodejs"))).toBe(true);
  }, 600_000);
});
