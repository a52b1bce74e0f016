import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.js";
import { enableGuardrails, waive } from "./policy/index.js";
import { runProgram } from "./testing.js";

const quiet = { warn() {}, info() {} };

describe("runProgram", { timeout: 30_000 }, () => {
  it("collects every guardrail finding of every resource instead of stopping at the first", async () => {
    const run = await runProgram(async () => {
      const { WebService } = await import("./k8s/webService.js");
      const { Bucket } = await import("./aws/bucket.js");
      const aws = await import("@pulumi/aws");
      enableGuardrails({ log: quiet });
      new WebService("api", { image: "nginx:latest" });
      new WebService("web", { image: "nginx" });
      new aws.s3.Bucket("open", { acl: "public-read" });
      new WebService("legacy", { image: "nginx:latest" }, waive("no-latest-tag", "vendor image"));
      return new Bucket("assets");
    });
    expect(run.errors.map((v) => v.resource)).toEqual([
      'kubernetes:apps/v1:Deployment "api"',
      'kubernetes:apps/v1:Deployment "web"',
      'aws:s3/bucket:Bucket "open"',
    ]);
    expect(run.violations.find((v) => v.waivedBecause !== undefined)?.resource).toBe(
      'kubernetes:apps/v1:Deployment "legacy"',
    );
    // The program ran to the end: the bucket after the violations was declared.
    expect(run.one("aws:s3/bucket:Bucket", "assets").inputs.tags).toEqual({ Name: "assets" });
    expect(run.all("kubernetes:apps/v1:Deployment")).toHaveLength(3);
  });

  it("runs the provenance transform inside a root stack and uses the given project, stack and outputs", async () => {
    const run = await runProgram(
      async () => {
        const { enableProvenance } = await import("./provenance/index.js");
        const aws = await import("@pulumi/aws");
        const pulumi = await import("@pulumi/pulumi");
        enableProvenance({ env: {}, commit: "a".repeat(40), git: false });
        const bucket = new aws.s3.Bucket("raw");
        return { stack: pulumi.getStack(), project: pulumi.getProject(), arn: bucket.arn };
      },
      { project: "shop", stack: "prod", outputs: (r) => ({ arn: `arn:aws:s3:::${r.name}` }) },
    );
    expect(run.result.stack).toBe("prod");
    expect(run.result.project).toBe("shop");
    expect(run.one("aws:s3/bucket:Bucket").inputs.tags).toEqual({
      "driftless:commit": "a".repeat(40),
      "driftless:stack": "prod",
    });
    expect(await new Promise((done) => run.result.arn.apply(done))).toBe("arn:aws:s3:::raw");
    expect(() => run.one("aws:s3/bucket:Bucket", "missing")).toThrow(
      'expected one aws:s3/bucket:Bucket "missing", found 0 among: aws:s3/bucket:Bucket "raw"',
    );
  });

  it("rejects with the program's own error", async () => {
    const error = await runProgram(async () => {
      const { WebService } = await import("./k8s/webService.js");
      return new WebService("api", { image: "a:1", replicas: 0 });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
  });

  it("answers invokes with the given function", async () => {
    const run = await runProgram(
      async () => {
        const aws = await import("@pulumi/aws");
        return aws.getRegion();
      },
      { call: (token) => (token === "aws:index/getRegion:getRegion" ? { name: "eu-west-1" } : {}) },
    );
    expect(run.result.name).toBe("eu-west-1");
  });
});
