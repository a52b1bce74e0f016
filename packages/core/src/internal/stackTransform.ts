import * as pulumi from "@pulumi/pulumi";

/** What a Driftless stack transform sees of a resource, in either registration mode. */
export interface TransformInput {
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  readonly props: pulumi.Inputs;
}

/** A synchronous transform: returns new props, or `undefined` to keep them. */
export type PropsTransform = (resource: TransformInput) => pulumi.Inputs | undefined;

/**
 * How a transform was installed: `engine` through `registerResourceTransform`
 * (the engine calls back for every resource, including those inside
 * multi-language components), `in-process` through the older
 * `registerStackTransformation` (runs in each resource's constructor), or
 * `inactive` under Pulumi mocks outside a stack (the plain `setMocks`, then
 * import the program pattern), where no transform can run: a warning says so
 * once, and `runProgram` from `@driftless/core/testing` runs them.
 */
export type TransformMode = "engine" | "in-process" | "inactive";

/**
 * Installs `transform` for every resource the program declares from now on.
 *
 * Prefers the engine-side `registerResourceTransform`. Pulumi's mock monitor
 * (unit tests) and CLIs older than 3.118 do not support it; then the transform
 * is installed with `registerStackTransformation` instead, which needs the
 * root stack resource (present in every `pulumi up` and in tests that run the
 * program inside `pulumi.runtime.runInPulumiStack`).
 */
export function registerPropsTransform(transform: PropsTransform): TransformMode {
  if (runningUnderMocks() && pulumi.runtime.getStackResource() === undefined) {
    if (!warnedInactive) {
      warnedInactive = true;
      pulumi.log.warn(
        "Driftless: provenance and guardrails are inactive: the program runs under Pulumi mocks without a root stack " +
          "resource. Run it with `runProgram` from `@driftless/core/testing` (or inside `pulumi.runtime.runInPulumiStack`) to apply them.",
      );
    }
    return "inactive";
  }
  if (supportsEngineTransforms()) {
    pulumi.runtime.registerResourceTransform((args) => {
      const props = transform({ type: args.type, name: args.name, custom: args.custom, props: args.props });
      return props === undefined ? undefined : { props, opts: args.opts };
    });
    return "engine";
  }
  pulumi.runtime.registerStackTransformation((args) => {
    const props = transform({
      type: args.type,
      name: args.name,
      // isInstance() reads a brand the constructor sets only after transformations
      // ran, so the prototype chain is the reliable test here.
      custom: args.resource instanceof pulumi.CustomResource,
      props: args.props,
    });
    return props === undefined ? undefined : { props, opts: args.opts };
  });
  return "in-process";
}

let engineSupport: boolean | undefined;
let warnedInactive = false;

function supportsEngineTransforms(): boolean {
  // Pulumi's mock monitor advertises the transforms feature but never calls a
  // transform back, so under mocks the in-process path is the only one that works.
  if (runningUnderMocks()) return false;
  // registerResourceTransform throws before registering anything when the monitor
  // lacks the feature, so a no-op probe is safe; it runs once per process.
  if (engineSupport === undefined) {
    try {
      pulumi.runtime.registerResourceTransform(() => undefined);
      engineSupport = true;
    } catch {
      engineSupport = false;
    }
  }
  return engineSupport;
}

function runningUnderMocks(): boolean {
  // MockMonitor is not exported from the SDK's public surface; it is the only
  // monitor that carries the user's `mocks` object.
  const monitor = pulumi.runtime.getMonitor() as object | undefined;
  return monitor !== undefined && "mocks" in monitor;
}
