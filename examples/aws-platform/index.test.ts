// The aws-platform program under Pulumi's mocks, through @driftless/core/testing:
// what it declares and what the guardrails say, without an AWS account.
import { type ProgramRun, runProgram } from "@driftless/core/testing";
import type * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("examples/aws-platform", () => {
  let run: ProgramRun<typeof import("./index.js")>;

  beforeAll(async () => {
    run = await runProgram(() => import("./index.js"), {
      project: "aws-platform",
      stack: "test",
      outputs: (r) => ({ bucket: r.name, arn: `arn:aws:mock:::${r.name}`, endpoint: "db.local:5432" }),
      call: (token, inputs) =>
        token === "aws:index/getRegion:getRegion" ? { name: "eu-west-1", region: "eu-west-1" } : inputs,
    });
  });

  it("declares the network, database, bucket and role", () => {
    const types = new Set(run.resources.map((r) => r.type));
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

  it("passes every guardrail", () => {
    expect(run.violations).toEqual([]);
  });

  it("keeps the database private and encrypted, and survives a zone outage", () => {
    const db = run.one("aws:rds/instance:Instance").inputs;
    expect(db.storageEncrypted).toBe(true);
    expect(db.publiclyAccessible).toBe(false);
    expect(db.deletionProtection).toBe(true);
    expect(run.all("aws:ec2/natGateway:NatGateway")).toHaveLength(3);
    expect(run.one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds).toEqual([
      "platform-isolated-0-id",
      "platform-isolated-1-id",
      "platform-isolated-2-id",
    ]);
    expect(run.one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs.serviceName).toBe("com.amazonaws.eu-west-1.s3");
  });

  it("stamps provenance from the local checkout", () => {
    expect(run.one("aws:ec2/vpc:Vpc").inputs.tags["driftless:commit"]).toMatch(/^[0-9a-f]{40}$/);
  });

  it("exports what the application needs", async () => {
    expect(await resolved(run.result.roleArn)).toMatch(/^arn:aws:mock/);
    expect(await resolved(run.result.bucketName)).toBeTruthy();
  });
});
