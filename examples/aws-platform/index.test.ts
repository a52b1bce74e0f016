// The aws-platform program under Pulumi's mocks: what it declares, without an AWS account.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

const declared: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("examples/aws-platform", () => {
  let program: typeof import("./index.js");

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          declared.push({ type: args.type, name: args.name, inputs: args.inputs });
          return {
            id: `${args.name}-id`,
            state: {
              bucket: args.name,
              ...args.inputs,
              arn: `arn:aws:mock:::${args.name}`,
              endpoint: "db.local:5432",
            },
          };
        },
        call: (args) =>
          args.token === "aws:index/getRegion:getRegion"
            ? { name: "eu-west-1", region: "eu-west-1" }
            : args.inputs,
      },
      "aws-platform",
      "test",
    );
    // A real program runs inside the root stack; the transforms need it.
    await pulumi.runtime.runInPulumiStack(async () => {
      const resources: pulumi.Resource[] = [];
      pulumi.runtime.registerStackTransformation(({ resource }) => {
        resources.push(resource);
        return undefined;
      });
      program = await import("./index.js");
      // Children register asynchronously; wait until no new ones appear.
      for (let seen = -1; seen !== resources.length; ) {
        seen = resources.length;
        await Promise.all(resources.map((r) => resolved(r.urn)));
      }
      return {};
    });
  });

  it("declares the network, database, bucket and role", () => {
    const types = new Set(declared.map((r) => r.type));
    for (const type of [
      "driftless:aws:Network",
      "driftless:aws:Database",
      "driftless:aws:Bucket",
      "driftless:aws:ServiceRole",
      "aws:ec2/vpc:Vpc",
      "aws:rds/instance:Instance",
      "aws:iam/role:Role",
    ]) {
      expect(types, type).toContain(type);
    }
  });

  it("keeps the database private and encrypted", () => {
    const db = declared.find((r) => r.type === "aws:rds/instance:Instance");
    expect(db?.inputs.storageEncrypted).toBe(true);
    expect(db?.inputs.publiclyAccessible).toBe(false);
    expect(db?.inputs.deletionProtection).toBe(true);
  });

  it("exports what the application needs", async () => {
    expect(await resolved(program.roleArn)).toMatch(/^arn:aws:mock/);
    expect(await resolved(program.bucketName)).toBeTruthy();
  });
});
