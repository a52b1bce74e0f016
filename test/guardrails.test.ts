// Guardrails on the real engine: one run reports every violating resource,
// not only the first, and nothing is created.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { enableGuardrails, type GuardrailRule } from "@driftless/core";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: "thing", outs: inputs };
  },
};

class Thing extends pulumi.dynamic.Resource {
  constructor(name: string, props: { size: number }) {
    super(provider, name, props, {});
  }
}

const smallThings: GuardrailRule = {
  id: "small-things",
  severity: "error",
  description: "things are at most 10 big",
  check: ({ type, props }) =>
    type === "pulumi-nodejs:dynamic:Resource" && typeof props.size === "number" && props.size > 10
      ? [`has size ${props.size}`]
      : [],
};

describe("guardrails on the real engine", () => {
  let sandbox: EngineSandbox;
  let stack: Stack;

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-guardrails-e2e-");
    mkdirSync(join(sandbox.dir, "state"), { recursive: true });
    const program = async () => {
      enableGuardrails({ rules: [smallThings] });
      new Thing("one", { size: 11 });
      new Thing("two", { size: 12 });
      new Thing("fine", { size: 1 });
    };
    stack = await LocalWorkspace.createOrSelectStack(
      { stackName: "dev", projectName: "guardrails-test", program },
      {
        envVars: sandbox.env,
        projectSettings: { name: "guardrails-test", runtime: "nodejs", backend: { url: sandbox.backendUrl } },
        secretsProvider: "passphrase",
      },
    );
  });

  afterAll(() => sandbox?.dispose());

  const violations = (error: Error | undefined) => {
    const text = String(error?.message);
    return ["one", "two", "fine"].filter((name) =>
      text.includes(`guardrail \`small-things\` (error): pulumi-nodejs:dynamic:Resource "${name}" has size`),
    );
  };

  it("reports every violating resource in one preview", async () => {
    const error = await stack.preview().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(violations(error)).toEqual(["one", "two"]);
  });

  it("never creates a violating resource, even in an update without a preview", async () => {
    const error = await stack.up().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(violations(error)).toEqual(["one", "two"]);
    const state = await stack.exportStack();
    const names = (state.deployment.resources ?? []).map((r: { urn: string }) => r.urn.split("::").at(-1));
    expect(names).not.toContain("one");
    expect(names).not.toContain("two");
  });
});
