// Runs a Pulumi program under mocks and hands back what was registered.
// Programs run inside runInPulumiStack so that stack transforms (provenance,
// guardrails) install exactly as they do in `pulumi up`.
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";

// A program with a few dozen resources takes a second alone and several on a
// machine busy with engine tests; the default 5 s would fail it for load alone.
vi.setConfig({ testTimeout: 30_000 });

/** One registered resource as the mock monitor saw it (after all transforms). */
export interface Registered {
  readonly type: string;
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests dig into provider inputs of every shape.
  readonly inputs: Record<string, any>;
}

const registered: Registered[] = [];
let ready: Promise<void> | undefined;

/** Installs the mocks once per test file. */
export function useMocks(): Promise<void> {
  ready ??= pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...outputsFor(args.type, args.name) } };
      },
      call(args) {
        if (args.token === "aws:index/getRegion:getRegion") return { name: "eu-west-1", region: "eu-west-1" };
        if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones")
          return {
            names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
            zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"],
          };
        return args.inputs;
      },
    },
    "proj",
    "dev",
    false,
  );
  return ready;
}

function outputsFor(type: string, name: string): Record<string, unknown> {
  if (type === "aws:s3/bucket:Bucket") return { bucket: name, arn: `arn:aws:s3:::${name}` };
  if (type === "aws:rds/instance:Instance")
    return { address: `${name}.db.internal`, endpoint: `${name}.db.internal:5432` };
  if (type.startsWith("aws:")) return { arn: `arn:aws:mock:::${name}`, name };
  return {};
}

/** The result of {@link declare}. */
export interface Declared<T> {
  readonly result: T;
  readonly resources: readonly Registered[];
  /** The one registered resource of `type` (and `name`, when given); throws when not exactly one. */
  one(type: string, name?: string): Registered;
  all(type: string): Registered[];
}

/**
 * Runs `program` in a fresh stack and waits until every resource it declared
 * has been registered with the mock monitor.
 */
export async function declare<T>(program: () => T): Promise<Declared<T>> {
  await useMocks();
  registered.length = 0;
  const resources: pulumi.Resource[] = [];
  let result: T | undefined;
  let failure: { error: unknown } | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(({ resource }) => {
      resources.push(resource);
      return undefined;
    });
    // A throwing program is caught here rather than left to the Stack resource,
    // which would surface it a second time as an unhandled rejection.
    try {
      result = program();
    } catch (error) {
      failure = { error };
    }
    return {};
  });
  // A resource whose constructor threw (a guardrail) never got a URN.
  await Promise.all(resources.filter((r) => r.urn !== undefined).map((r) => settle(r.urn)));
  if (failure) throw failure.error;
  const snapshot = registered.filter((r) => r.type !== "pulumi:pulumi:Stack");
  const all = (type: string) => snapshot.filter((r) => r.type === type);
  return {
    result: result as T,
    resources: snapshot,
    all,
    one(type, name) {
      const found = all(type).filter((r) => name === undefined || r.name === name);
      if (found.length !== 1) {
        throw new Error(
          `expected one ${type}${name ? ` "${name}"` : ""}, found ${found.length}: ${snapshot.map((r) => `${r.type} ${r.name}`).join(", ")}`,
        );
      }
      return found[0] as Registered;
    },
  };
}

/** Key and value of the marker Pulumi wraps secret property values in on the wire. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** The value of an Output (secret or not). */
export function settle<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function rejected<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error("expected the program to fail, but it succeeded");
}
