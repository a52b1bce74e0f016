// The real Pulumi engine through the Automation API: the CLI and language
// host that scripts/bootstrap.sh built, a file:// backend in a temp dir and
// passphrase secrets. An inline program declares one dynamic resource (a
// local file), so no provider plugin is needed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { PulumiEngine, type StackRequest } from "@driftless/gitops";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as LocalFileModule from "./fixtures/localFile.cjs";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";

const { LocalFile } = createRequire(import.meta.url)("./fixtures/localFile.cjs") as typeof LocalFileModule;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("the real Pulumi engine", () => {
  let sandbox: EngineSandbox;
  let stack: Stack;
  let target: string;

  beforeAll(async () => {
    sandbox = engineSandbox();
    mkdirSync(join(sandbox.dir, "state"), { recursive: true });
    target = join(sandbox.dir, "out", "hello.txt");
    const program = async () => {
      const config = new pulumi.Config();
      const file = new LocalFile("hello", { path: target, content: config.require("greeting") });
      // Exported so the secret reaches the state file, where it must stay encrypted.
      return { path: file.path, size: file.size, token: config.requireSecret("apiToken") };
    };
    stack = await LocalWorkspace.createOrSelectStack(
      { stackName: "dev", projectName: "engine-test", program },
      {
        envVars: sandbox.env,
        projectSettings: {
          name: "engine-test",
          runtime: "nodejs",
          backend: { url: sandbox.backendUrl },
        },
        secretsProvider: "passphrase",
      },
    );
    await stack.setConfig("greeting", { value: "hello" });
    await stack.setConfig("apiToken", { value: "s3cr3t-token-value", secret: true });
  });

  afterAll(() => sandbox?.dispose());

  /** A request for an inline program on its own stack (`engine-<name>`) in the sandbox's backend. */
  const inlineRequest = (
    name: string,
    program: NonNullable<StackRequest["program"]>,
    secretConfig: Record<string, string> = {},
  ): StackRequest => ({
    workDir: join(sandbox.dir, `inline-${name}`),
    stack: name,
    projectName: `engine-${name}`,
    program,
    backend: sandbox.backendUrl,
    secretsProvider: "passphrase",
    env: sandbox.env,
    config: {},
    secretConfig,
  });

  it("runs the CLI version the bootstrap pinned", () => {
    const printed = execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim();
    expect(printed).toBe(process.env.DRIFTLESS_PULUMI_VERSION);
  });

  it("creates the resource with the expected outputs", async () => {
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
    expect(result.summary.resourceChanges?.create).toBe(2); // the stack and the file
    expect(result.outputs.path?.value).toBe(target);
    expect(result.outputs.size?.value).toBe(5);
    expect(readFileSync(target, "utf8")).toBe("hello");
  });

  it("changes nothing on a second up", async () => {
    const result = await stack.up();
    expect(result.summary.resourceChanges).toEqual({ same: 2 });
  });

  it("previews exactly one update after one input changes", async () => {
    await stack.setConfig("greeting", { value: "hello, world" });
    const preview = await stack.preview();
    expect(preview.changeSummary).toEqual({ same: 1, update: 1 });
    expect(readFileSync(target, "utf8")).toBe("hello");
    await stack.setConfig("greeting", { value: "hello" });
  });

  it("picks up an out-of-band change on refresh", async () => {
    writeFileSync(target, "edited by hand");
    const refresh = await stack.refresh();
    expect(refresh.summary.resourceChanges).toMatchObject({ update: 1 });
    const state = await stack.exportStack();
    const file = state.deployment.resources.find((r: { type: string }) => r.type.includes("Resource"));
    expect(file?.outputs?.content).toBe("edited by hand");
  });

  it("keeps secret config encrypted in the state file", () => {
    const stateFiles = filesUnder(join(sandbox.dir, "state"));
    expect(stateFiles.length).toBeGreaterThan(0);
    for (const file of stateFiles) {
      expect(readFileSync(file, "utf8")).not.toContain("s3cr3t-token-value");
    }
    const stackFile = stateFiles.find((f) => f.endsWith("dev.json"));
    expect(stackFile).toBeDefined();
    const checkpoint = JSON.parse(readFileSync(stackFile as string, "utf8"));
    const outputs = checkpoint.checkpoint.latest.resources.find((r: { type: string }) =>
      r.type.startsWith("pulumi:pulumi:Stack"),
    ).outputs;
    // Pulumi's marker for an encrypted value, holding ciphertext instead of the value.
    expect(outputs.token["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(outputs.token.ciphertext).toMatch(/^v1:/);
  });

  it("destroys the resource", async () => {
    const result = await stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(existsSync(target)).toBe(false);
  });

  it("reports an up's stack outputs from the engine's events, secrets masked", async () => {
    const engine = new PulumiEngine();
    const file = join(sandbox.dir, "out", "engine.txt");
    const request = inlineRequest(
      "outputs",
      async () => {
        const config = new pulumi.Config();
        const page = new LocalFile("page", { path: file, content: "hi" });
        return {
          path: page.path,
          nested: { list: [1, 2], name: "n" },
          token: config.requireSecret("apiToken"),
          wrapped: { inner: config.requireSecret("apiToken") },
        };
      },
      { apiToken: "s3cr3t-token-value" },
    );
    const applied = await engine.up(request);
    const expected = {
      path: file,
      nested: { list: [1, 2], name: "n" },
      token: "[secret]",
      wrapped: "[secret]",
    };
    expect(applied.outputs).toEqual(expected);
    expect(applied.counts).toMatchObject({ create: 1 });
    const again = await engine.up(request);
    expect(again.outputs).toEqual(expected);
    await engine.destroy(request);
  });

  it("starts no engine process to refresh a state with no resource, and refreshes one that has some", async () => {
    const engine = new PulumiEngine();
    const file = join(sandbox.dir, "out", "fresh.txt");
    const request = inlineRequest("fresh", async () => ({
      path: new LocalFile("page", { path: file, content: "first" }).path,
    }));
    // A new stack: created, its state read from the backend's file, nothing refreshed.
    expect(await engine.refresh(request)).toEqual([]);
    expect(engine.invocations).toBe(0);
    expect(await engine.resources(request)).toEqual([]);
    await engine.up(request);
    writeFileSync(file, "edited by hand");
    const drift = await engine.refresh(request);
    expect(engine.invocations).toBe(2);
    expect(drift.map((d) => d.urn)).toEqual([expect.stringMatching(/::page$/)]);
    await engine.destroy(request);
    // Destroyed and removed: the same request makes a new, empty stack, with nothing to refresh.
    expect(await engine.refresh(request)).toEqual([]);
    expect(engine.invocations).toBe(3);
    expect(existsSync(file)).toBe(false);
  });
});
