// TypeScript programs on the real engine: `driftless preview` type-checks them
// (as `pulumi preview` does) and says so, a type error fails the preview with
// the compiler's message, and the transpile-only runs of `reconcile` explain
// the one tsconfig that plain `pulumi up` accepts and they do not (TS5110).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, git, type TestRepo } from "./support/git.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function driftless(...args: string[]): Promise<Result> {
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

/** A program that needs no type packages: `require` is declared, the SDK found through NODE_PATH. */
const program = (value: string) =>
  [
    "declare const require: (id: string) => { Config: new () => unknown };",
    'const pulumi = require("@pulumi/pulumi");',
    `const count: number = ${value};`,
    "new pulumi.Config();",
    "export const answer = count;",
    "",
  ].join("\n");

/** The tsconfig the newcomer had: commonjs, no moduleResolution. */
const COMMONJS_TSCONFIG = JSON.stringify({ compilerOptions: { module: "commonjs", strict: true } });

describe("TypeScript programs", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let configFile: string;

  beforeAll(() => {
    sandbox = engineSandbox("driftless-typecheck-");
    repo = createRepo(join(sandbox.dir, "repo"));
    repo.commit(
      {
        "Pulumi.yaml": "name: ts-site\nruntime: nodejs\nmain: index.ts\n",
        "index.ts": program("42"),
        "tsconfig.json": COMMONJS_TSCONFIG,
      },
      "a TypeScript program with a commonjs tsconfig",
    );
    configFile = join(sandbox.dir, "driftless.yaml");
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(sandbox.dir, "data"),
        installDependencies: false,
        targets: [
          {
            name: "ts",
            repo: repo.fileUrl,
            ref: "main",
            stack: "dev",
            passphrase: "test-passphrase",
            env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
          },
        ],
      }),
    );
  });

  afterAll(() => sandbox?.dispose());

  it("explains why a transpile-only run refuses a commonjs tsconfig without moduleResolution", async () => {
    const result = await driftless("reconcile", "ts", "--config", configFile);
    const output = result.stdout + result.stderr;
    expect(result.code, output.slice(-3000)).toBe(1);
    expect(output).toContain("TS5110");
    expect(output).toContain("PULUMI_NODEJS_TRANSPILE_ONLY=true");
    expect(output).toContain('"moduleResolution": "node10"');
  });

  it("type-checks in preview, accepting what `pulumi preview` accepts, and says so", async () => {
    const result = await driftless("preview", "ts", "--ref", "main", "--config", configFile);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toContain("[typecheck] index.ts type-checked by ts-node with tsconfig.json");
    expect(result.stdout).toContain(
      "Type check: passed (index.ts type-checked by ts-node with tsconfig.json",
    );
  });

  it("fails a preview on a type error with the compiler's message", async () => {
    git(repo.work, "checkout", "--quiet", "-b", "broken");
    writeFileSync(join(repo.work, "index.ts"), program('"a"'));
    git(repo.work, "commit", "--quiet", "-am", "a type error");
    git(repo.work, "push", "--quiet", "origin", "broken");
    git(repo.work, "checkout", "--quiet", "main");
    const result = await driftless("preview", "ts", "--ref", "broken", "--config", configFile);
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    expect(result.stderr).toContain("TS2322");
    expect(result.stderr).toContain("Type 'string' is not assignable to type 'number'");
  });

  it("runs transpile-only once the tsconfig names its module resolution", async () => {
    repo.commit(
      {
        "tsconfig.json": JSON.stringify({
          compilerOptions: { module: "commonjs", moduleResolution: "node10" },
        }),
      },
      "name the module resolution",
    );
    const result = await driftless("reconcile", "ts", "--config", configFile);
    expect(result.code, (result.stdout + result.stderr).slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^ts: (applied|unchanged) at [0-9a-f]{12}/);
  });
});
