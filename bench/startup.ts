// Engine start to first resource registered for a TypeScript program that
// imports @pulumi/aws: ts-node with type checking (Pulumi's default) versus
// transpile-only (the reconciler's default).
import { cpSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalWorkspace } from "@pulumi/pulumi/automation/index.js";
import { engineSandbox } from "../test/support/engine.js";
import { type Figure, interleaved, progress } from "./lib.js";

const fixture = fileURLToPath(new URL("./fixtures/aws-startup", import.meta.url));
// The aws-platform example's install has @pulumi/aws, ts-node and TypeScript.
const nodeModules = fileURLToPath(new URL("../examples/aws-platform/node_modules", import.meta.url));

export async function startupBenchmark(runs: number): Promise<Figure[]> {
  const sandbox = engineSandbox("driftless-startup-");
  try {
    const workDir = join(sandbox.dir, "program");
    cpSync(fixture, workDir, { recursive: true });
    // Type checking resolves modules from node_modules (not NODE_PATH), as in a real project.
    symlinkSync(nodeModules, join(workDir, "node_modules"));
    mkdirSync(join(sandbox.dir, "state"), { recursive: true });
    const stackFor = (transpileOnly: boolean) =>
      LocalWorkspace.createOrSelectStack(
        { stackName: transpileOnly ? "fast" : "checked", workDir },
        {
          envVars: {
            ...sandbox.env,
            PULUMI_BACKEND_URL: sandbox.backendUrl,
            PULUMI_NODEJS_TRANSPILE_ONLY: String(transpileOnly),
          },
        },
      );
    const checked = await stackFor(false);
    const fast = await stackFor(true);
    const firstRegistration = async (stack: typeof checked) => {
      const started = performance.now();
      let first: number | undefined;
      await stack.preview({
        onEvent: (event) => {
          if (event.resourcePreEvent?.metadata.type === "bench:index:Marker") first ??= performance.now();
        },
      });
      if (first === undefined) throw new Error("the program registered nothing");
      return first - started;
    };
    progress(`program start-up: ${runs} × (type-checked, transpile-only) previews importing @pulumi/aws`);
    const result = await interleaved(
      runs,
      () => firstRegistration(checked),
      () => firstRegistration(fast),
    );
    return [
      {
        id: "program-startup",
        name: "Engine start → first resource, TypeScript program importing @pulumi/aws: transpile-only vs type-checked",
        unit: "ms",
        value: result.b,
        baseline: result.a,
        ratio: result.b.median / result.a.median,
        notes: "the reconciler sets PULUMI_NODEJS_TRANSPILE_ONLY=true unless a target's env says otherwise",
      },
    ];
  } finally {
    sandbox.dispose();
  }
}
