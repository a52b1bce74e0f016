import { describe, expect, it } from "vitest";
import type { ChangeCounts, Plan, PlannedStep } from "../engine/types.js";
import { DEFAULT_PROTECTED_TYPES, type GateOptions } from "../spec/spec.js";
import { checkGates } from "./gates.js";

const gates = (overrides: GateOptions = {}): Required<GateOptions> => ({
  maxDestructiveShare: 0.5,
  protectedTypes: DEFAULT_PROTECTED_TYPES,
  allowDestructive: false,
  allowEmpty: false,
  ...overrides,
});

/** A plan over a stack of `same` untouched resources plus the given steps. */
function plan(same: number, ...steps: [PlannedStep["op"], string][]): Plan {
  const counts: ChangeCounts = { create: 0, update: 0, delete: 0, replace: 0, same };
  const planned = steps.map(([op, type], i): PlannedStep => {
    counts[op]++;
    return { op, type, urn: `urn:pulumi:dev::site::${type}::r${i}` };
  });
  return { counts, steps: planned, changes: planned.length > 0 };
}

describe("checkGates", () => {
  it("lets an ordinary plan through", () => {
    expect(
      checkGates(
        plan(3, ["create", "random:index:RandomPet"], ["update", "aws:s3/bucketV2:BucketV2"]),
        gates(),
      ),
    ).toBe(undefined);
  });

  it("lets anything through on a new, empty stack", () => {
    expect(checkGates(plan(0, ["create", "aws:rds/instance:Instance"]), gates())).toBeUndefined();
    expect(checkGates(plan(0), gates())).toBeUndefined();
  });

  it("refuses an empty program over a non-empty stack", () => {
    const refusal = checkGates(
      plan(0, ["delete", "test:index:File"], ["delete", "test:index:File"]),
      gates(),
    );
    expect(refusal?.gate).toBe("empty-program");
    expect(refusal?.message).toMatch(/no resources but the stack has 2/);
  });

  it("does not take a program that still creates something for an empty one", () => {
    const refusal = checkGates(
      plan(0, ["delete", "test:index:File"], ["create", "test:index:Other"]),
      gates(),
    );
    expect(refusal?.gate).not.toBe("empty-program");
  });

  it("lets an empty program delete everything with allowEmpty", () => {
    const empty = plan(
      0,
      ["delete", "test:index:File"],
      ["delete", "test:index:File"],
      ["delete", "test:index:File"],
    );
    expect(checkGates(empty, gates({ allowEmpty: true }))).toBeUndefined();
  });

  it("still guards protected types in an empty program with allowEmpty", () => {
    const empty = plan(0, ["delete", "test:index:File"], ["delete", "aws:rds/instance:Instance"]);
    expect(checkGates(empty, gates({ allowEmpty: true }))?.gate).toBe("protected-type");
    expect(checkGates(empty, gates({ allowEmpty: true, allowDestructive: true }))).toBeUndefined();
  });

  it("does not let allowDestructive stand in for allowEmpty", () => {
    const empty = plan(0, ["delete", "test:index:File"]);
    expect(checkGates(empty, gates({ allowDestructive: true }))?.gate).toBe("empty-program");
  });

  it("refuses deletes and replaces above the allowed share", () => {
    // 2 destructive of 3 existing = 67% > 50%.
    const refusal = checkGates(
      plan(1, ["delete", "test:index:File"], ["replace", "test:index:File"]),
      gates(),
    );
    expect(refusal?.gate).toBe("destructive-share");
    expect(refusal?.message).toMatch(/2 of 3 resources \(67%\), more than the 50% allowed/);
  });

  it("allows deletes and replaces at or under the share", () => {
    // 1 of 2 = exactly 50%.
    expect(checkGates(plan(1, ["delete", "test:index:File"]), gates())).toBeUndefined();
    // 1 of 4 = 25%.
    expect(
      checkGates(plan(3, ["replace", "test:index:File"]), gates({ maxDestructiveShare: 0.25 })),
    ).toBeUndefined();
    expect(
      checkGates(plan(3, ["replace", "test:index:File"]), gates({ maxDestructiveShare: 0.2 }))?.gate,
    ).toBe("destructive-share");
  });

  it("does not count creates and updates as destructive", () => {
    expect(
      checkGates(
        plan(0, ["update", "test:index:File"], ["update", "test:index:File"], ["create", "x:y:Z"]),
        gates(),
      ),
    ).toBeUndefined();
  });

  it.each([
    ["aws:rds/*", "aws:rds/instance:Instance", "delete"],
    ["aws:rds/*", "aws:rds/cluster:Cluster", "replace"],
    ["kubernetes:core/v1:Namespace", "kubernetes:core/v1:Namespace", "delete"],
    ["aws:s3/bucket:*", "aws:s3/bucket:Bucket", "replace"],
  ] as const)("refuses a %s match (%s, %s)", (glob, type, op) => {
    const refusal = checkGates(plan(20, [op, type]), gates({ protectedTypes: [glob] }));
    expect(refusal?.gate).toBe("protected-type");
    expect(refusal?.message).toContain(`${op} urn:pulumi:dev::site::${type}::r0`);
  });

  it.each([
    ["aws:rds/*", "aws:rdsx/instance:Instance"],
    ["aws:rds/*", "xaws:rds/instance:Instance"],
    ["kubernetes:core/v1:Namespace", "kubernetes:core/v1:NamespaceList"],
    ["kubernetes:core/v1:Namespace", "kubernetes:core/v1xNamespace"],
  ])("matches %s against the whole type, not %s", (glob, type) => {
    expect(checkGates(plan(20, ["delete", type]), gates({ protectedTypes: [glob] }))).toBeUndefined();
  });

  it("does not guard protected types that are only created or updated", () => {
    expect(
      checkGates(
        plan(1, ["update", "aws:rds/instance:Instance"], ["create", "kubernetes:core/v1:Namespace"]),
        gates(),
      ),
    ).toBeUndefined();
  });

  it("lets protected types and a large share through with allowDestructive", () => {
    const destructive = plan(
      0,
      ["delete", "aws:rds/instance:Instance"],
      ["replace", "x:y:Z"],
      ["update", "x:y:Z"],
    );
    expect(checkGates(destructive, gates())?.gate).toBe("protected-type");
    expect(checkGates(destructive, gates({ allowDestructive: true }))).toBeUndefined();
  });
});

describe("the same-name replacement gate", () => {
  const identity = (name: string, namespace = "shop", apiVersion = "apps/v1", kind = "Deployment") => ({
    apiVersion,
    kind,
    namespace,
    name,
  });
  const replacing = (
    old: ReturnType<typeof identity>,
    next: ReturnType<typeof identity>,
    replaceOrder?: PlannedStep["replaceOrder"],
  ): Plan => ({
    counts: { create: 0, update: 0, delete: 0, replace: 1, same: 9 },
    changes: true,
    steps: [
      {
        op: "replace",
        type: `kubernetes:${old.apiVersion}:${old.kind}`,
        urn: `urn:pulumi:dev::app::kubernetes:${old.apiVersion}:${old.kind}::${old.name}`,
        objects: { old, new: next },
        ...(replaceOrder ? { replaceOrder } : {}),
      },
    ],
  });

  it("refuses a create-before-delete replacement of an object by itself, naming it and the fix", () => {
    const refusal = checkGates(replacing(identity("api"), identity("api"), "create-before-delete"), gates());
    expect(refusal?.gate).toBe("same-name-replacement");
    expect(refusal?.message).toContain(
      "urn:pulumi:dev::app::kubernetes:apps/v1:Deployment::api (Deployment shop/api)",
    );
    expect(refusal?.message).toContain("`deleteBeforeReplace: true`");
    expect(refusal?.message).toContain("approve this revision");
  });

  it("is not lifted by allowDestructive: only a person's approval accepts the delete", () => {
    const plan = replacing(identity("api"), identity("api", "shop", "apps/v1beta2"), "create-before-delete");
    expect(checkGates(plan, gates({ allowDestructive: true }))?.gate).toBe("same-name-replacement");
  });

  it("takes an unset namespace for the provider's default, which may be the old one", () => {
    const unset = {
      ...identity("db-creds", "", "v1", "Secret"),
      namespace: undefined,
    } as unknown as ReturnType<typeof identity>;
    const plan = replacing(identity("db-creds", "shop", "v1", "Secret"), unset);
    expect(checkGates(plan, gates())?.gate).toBe("same-name-replacement");
  });

  it("lets through a delete-before-replace, a new name, another namespace or another kind", () => {
    const allowed = [
      replacing(identity("api"), identity("api"), "delete-before-replace"),
      replacing(identity("settings-0a1b2c3d"), identity("settings-4e5f6a7b"), "create-before-delete"),
      replacing(identity("api", "shop"), identity("api", "shop-v2"), "create-before-delete"),
      replacing(identity("api"), identity("api", "shop", "apps/v1", "StatefulSet"), "create-before-delete"),
    ];
    // Another provider's resource with a `metadata.name` but no apiVersion and kind is not identified so.
    const named = { namespace: "shop", name: "api" } as unknown as ReturnType<typeof identity>;
    allowed.push(replacing(named, named, "create-before-delete"));
    for (const plan of allowed) expect(checkGates(plan, gates({ maxDestructiveShare: 1 }))).toBeUndefined();
  });
});
