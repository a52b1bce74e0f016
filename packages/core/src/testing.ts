// Unit-testing support for programs built with Driftless: run a program under
// Pulumi mocks, inside a root stack so provenance and guardrails run exactly
// as in `pulumi up`, and hand back what it declared and what the guardrails
// found. Needs no engine and no cloud.
import * as pulumi from "@pulumi/pulumi";
import { collector, startCollecting, stopCollecting } from "./internal/findings.js";
import type { Violation } from "./policy/guardrails.js";

/** One resource the program declared, as the mock engine received it (after every transform). */
export interface MockedResource {
  /** Pulumi type token, e.g. `kubernetes:apps/v1:Deployment`. */
  readonly type: string;
  /** Logical name. */
  readonly name: string;
  /** The inputs sent to the engine, with Outputs resolved. */
  // biome-ignore lint/suspicious/noExplicitAny: inputs of every provider schema.
  readonly inputs: Record<string, any>;
}

/** Inputs of {@link runProgram}. */
export interface RunProgramOptions {
  /**
   * Project name the program sees in `pulumi.getProject()`.
   * @default "project"
   */
  readonly project?: string;
  /**
   * Stack name the program sees in `pulumi.getStack()`.
   * @default "test"
   */
  readonly stack?: string;
  /**
   * Run as a preview (`pulumi.runtime.isDryRun()` is true).
   * @default false
   */
  readonly preview?: boolean;
  /**
   * The outputs a resource reports back, on top of its inputs (e.g. an `arn`).
   * @default - the inputs, and `<name>-id` as the id
   */
  readonly outputs?: (resource: MockedResource) => Record<string, unknown>;
  /**
   * Answers to provider functions (invokes), e.g. `aws:index/getRegion:getRegion`.
   * @default - echo the arguments
   */
  readonly call?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown>;
}

/** What {@link runProgram} found. */
export interface ProgramRun<T> {
  /** What the program returned (an imported module's exports, for `() => import("./index.js")`). */
  readonly result: T;
  /** Every resource declared, in declaration order, without the root stack. */
  readonly resources: readonly MockedResource[];
  /**
   * Every guardrail finding of every resource — errors, warnings and waived ones
   * (`waivedBecause` set) — when the program called `enableGuardrails()`.
   * Under `runProgram` an `error` finding does not stop the program, so a test
   * sees all of them at once.
   */
  readonly violations: readonly Violation[];
  /** Findings that would fail `pulumi up`: severity `error`, not waived. */
  readonly errors: readonly Violation[];
  /** Resources of `type`. */
  all(type: string): MockedResource[];
  /** The one resource of `type` (and `name`); throws when there is not exactly one. */
  one(type: string, name?: string): MockedResource;
}

/**
 * Runs `program` under Pulumi mocks inside a root stack, waits until every
 * resource it declared has been registered, and returns the resources and the
 * guardrail findings. A program that throws (a `ValidationError`, say) rejects
 * the returned promise with that error.
 *
 * ```ts
 * const run = await runProgram(() => import("./index.js"));
 * expect(run.errors).toEqual([]);
 * expect(run.one("kubernetes:apps/v1:Deployment", "api").inputs.spec.replicas).toBe(2);
 * ```
 *
 * Node caches modules: importing the same program file twice runs it once.
 * Run one program per test file, or reset the module cache between runs
 * (`vi.resetModules()` in vitest).
 *
 * @see https://www.pulumi.com/docs/iac/guides/testing/unit/
 */
export async function runProgram<T>(
  program: () => T | Promise<T>,
  options: RunProgramOptions = {},
): Promise<ProgramRun<T>> {
  if (collector() !== undefined)
    throw new Error("runProgram: another program is still running; await it first");
  const registered: MockedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const resource = { type: args.type, name: args.name, inputs: args.inputs };
        registered.push(resource);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...options.outputs?.(resource) } };
      },
      call(args) {
        return options.call ? options.call(args.token, args.inputs) : args.inputs;
      },
    },
    options.project ?? "project",
    options.stack ?? "test",
    options.preview ?? false,
  );
  const violations = startCollecting();
  const declared: pulumi.Resource[] = [];
  let result: T | undefined;
  let failure: { error: unknown } | undefined;
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation(({ resource }) => {
        declared.push(resource);
        return undefined;
      });
      // Caught here rather than left to the Stack resource, which would report it
      // a second time as an unhandled rejection.
      try {
        result = await program();
      } catch (error) {
        failure = { error };
      }
      return {};
    });
    // A resource whose constructor threw never got a URN.
    await Promise.all(
      declared.filter((r) => r.urn !== undefined).map((r) => new Promise((done) => r.urn.apply(done))),
    );
  } finally {
    stopCollecting();
  }
  if (failure) throw failure.error;
  const resources = registered.filter((r) => r.type !== "pulumi:pulumi:Stack");
  const all = (type: string) => resources.filter((r) => r.type === type);
  return {
    result: result as T,
    resources,
    violations,
    errors: violations.filter((v) => v.severity === "error" && v.waivedBecause === undefined),
    all,
    one(type, name) {
      const found = all(type).filter((r) => name === undefined || r.name === name);
      if (found.length !== 1) {
        throw new Error(
          `expected one ${type}${name === undefined ? "" : ` "${name}"`}, found ${found.length} among: ${resources.map((r) => `${r.type} "${r.name}"`).join(", ")}`,
        );
      }
      return found[0] as MockedResource;
    },
  };
}
