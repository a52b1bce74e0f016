import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, rejected } from "../../test/harness.js";
import { Database } from "../aws/database.js";
import { GuardrailViolationError } from "../errors.js";
import { WebService } from "../k8s/webService.js";
import { enableGuardrails, evaluateGuardrails, type GuardrailLog } from "./guardrails.js";
import type { GuardrailRule } from "./rule.js";
import { BUILT_IN_RULES, RULE_IDS } from "./rules.js";
import { WAIVER_PROPERTY, waive } from "./waive.js";

function recorder(): GuardrailLog & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (m) => warnings.push(m), info: (m) => infos.push(m) };
}

const openDb = {
  subnetIds: ["a", "b"],
  vpcId: "v",
  allowIngressFrom: { cidrBlocks: ["0.0.0.0/0"] },
  passwordSeed: "s",
};

describe("guardrails", () => {
  it("stops the program on an error rule, naming resource, rule and waiver", async () => {
    const error = await declare(() => {
      enableGuardrails({ log: recorder() });
      new WebService("api", { image: "nginx:latest" });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardrailViolationError);
    expect((error as GuardrailViolationError).ruleId).toBe("no-latest-tag");
    expect((error as Error).message).toBe(
      'guardrail `no-latest-tag` (error): kubernetes:apps/v1:Deployment "api" container `api` uses the `latest` tag in `nginx:latest`. ' +
        'To waive it, declare the resource with `waive("no-latest-tag", "<reason>")` in its options.',
    );
  });

  it("lets compliant Driftless components through with every built-in rule on", async () => {
    const { resources } = await declare(() => {
      enableGuardrails();
      new WebService("api", { image: "acme/api:1.0.0" });
      new Database("orders", { ...openDb, allowIngressFrom: { cidrBlocks: ["10.0.0.0/16"] } });
    });
    expect(resources.some((r) => r.type === "aws:rds/instance:Instance")).toBe(true);
    expect(resources.every((r) => !(WAIVER_PROPERTY in r.inputs))).toBe(true);
  });

  it("does nothing when not enabled", async () => {
    const { one } = await declare(() => new aws.s3.Bucket("open", { acl: "public-read" }));
    expect(one("aws:s3/bucket:Bucket").inputs.acl).toBe("public-read");
  });

  it.each([
    ["no-public-bucket", () => new aws.s3.Bucket("open", { acl: "public-read" })],
    ["no-open-database-ingress", () => new Database("orders", openDb)],
    [
      "container-resource-limits",
      () =>
        new k8s.apps.v1.Deployment("raw", {
          spec: {
            selector: { matchLabels: { a: "b" } },
            template: {
              metadata: { labels: { a: "b" } },
              spec: { containers: [{ name: "c", image: "nginx:1.27" }] },
            },
          },
        }),
    ],
  ])("enforces %s", async (ruleId, program) => {
    const error = await declare(() => {
      enableGuardrails();
      program();
    }).catch((e: unknown) => e);
    expect((error as GuardrailViolationError).ruleId).toBe(ruleId);
  });

  it("waives a rule for a component and all its children, logs the reason and strips the marker", async () => {
    const log = recorder();
    const { one } = await declare(() => {
      enableGuardrails({ log });
      new WebService(
        "legacy",
        { image: "vendor/app:latest" },
        waive("no-latest-tag", "vendor only publishes latest"),
      );
    });
    expect(one("kubernetes:apps/v1:Deployment").inputs[WAIVER_PROPERTY]).toBeUndefined();
    expect(log.infos).toEqual([
      'guardrail `no-latest-tag` waived for kubernetes:apps/v1:Deployment "legacy": vendor only publishes latest',
    ]);
  });

  it("only waives the named rule", async () => {
    const error = await declare(() => {
      enableGuardrails();
      new Database("orders", openDb, waive("no-latest-tag", "not relevant here"));
    }).catch((e: unknown) => e);
    expect((error as GuardrailViolationError).ruleId).toBe("no-open-database-ingress");
  });

  it("combines waivers and other options, the innermost reason winning", async () => {
    const log = recorder();
    const { one } = await declare(() => {
      enableGuardrails({ log });
      const provider = new k8s.Provider("cluster", {});
      const outer = waive(
        "no-latest-tag",
        "outer reason",
        waive("container-resource-limits", "sidecar-less job", { provider }),
      );
      new k8s.apps.v1.Deployment(
        "raw",
        {
          spec: {
            selector: { matchLabels: { a: "b" } },
            template: {
              metadata: { labels: { a: "b" } },
              spec: { containers: [{ name: "c", image: "nginx" }] },
            },
          },
        },
        pulumi.mergeOptions(waive("no-latest-tag", "inner reason"), outer),
      );
    });
    expect(one("kubernetes:apps/v1:Deployment").inputs[WAIVER_PROPERTY]).toBeUndefined();
    expect(log.infos.sort()).toEqual([
      'guardrail `container-resource-limits` waived for kubernetes:apps/v1:Deployment "raw": sidecar-less job',
      'guardrail `no-latest-tag` waived for kubernetes:apps/v1:Deployment "raw": inner reason',
    ]);
  });

  it("sends no marker to the provider when guardrails are off", async () => {
    const { one } = await declare(
      () => new WebService("legacy", { image: "vendor/app:latest" }, waive("no-latest-tag", "why not")),
    );
    expect(one("kubernetes:apps/v1:Deployment").inputs[WAIVER_PROPERTY]).toBeUndefined();
  });

  it("logs warnings, and honours severity overrides and `off`", async () => {
    const log = recorder();
    const { resources } = await declare(() => {
      enableGuardrails({ log, severityOverrides: { "no-latest-tag": "warning", "no-public-bucket": "off" } });
      new WebService("api", { image: "nginx" });
      new aws.s3.Bucket("open", { acl: "public-read" });
    });
    expect(resources.some((r) => r.type === "aws:s3/bucket:Bucket")).toBe(true);
    expect(log.warnings).toEqual([
      'guardrail `no-latest-tag` (warning): kubernetes:apps/v1:Deployment "api" container `api` uses the untagged image `nginx` (which means `latest`). To waive it, declare the resource with `waive("no-latest-tag", "<reason>")` in its options.',
    ]);
  });

  it("runs custom rules", async () => {
    const noDefaultNamespace: GuardrailRule = {
      id: "no-default-namespace",
      severity: "error",
      description: "Objects must name a namespace.",
      check: ({ type, props }) =>
        type.startsWith("kubernetes:apps/") && !(props.metadata as { namespace?: string }).namespace
          ? ["has no namespace"]
          : [],
    };
    const error = await declare(() => {
      enableGuardrails({ rules: [...BUILT_IN_RULES, noDefaultNamespace] });
      new WebService("api", { image: "acme/api:1.0.0" });
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(
      'guardrail `no-default-namespace` (error): kubernetes:apps/v1:Deployment "api" has no namespace',
    );
  });

  it("rejects unknown overrides and duplicate rule ids", () => {
    expect(() => enableGuardrails({ severityOverrides: { "no-such-rule": "off" } })).toThrow(
      'enableGuardrails: `severityOverrides` names the unknown rule `no-such-rule` (set to "off"); known rules: no-public-bucket',
    );
    expect(() =>
      enableGuardrails({ rules: [...BUILT_IN_RULES, BUILT_IN_RULES[0] as GuardrailRule] }),
    ).toThrow("rule id `no-public-bucket` is used twice");
  });

  it("validates waivers", () => {
    expect(() => waive("No Such", "reason")).toThrow(
      'waive: `ruleId` must be a rule id like "no-latest-tag", got "No Such"',
    );
    expect(() => waive(RULE_IDS.noLatestTag, "  ")).toThrow(
      "waive: `reason` must say why rule `no-latest-tag` is waived",
    );
  });

  it("evaluates without side effects and marks waived findings", () => {
    const resource = {
      type: "aws:s3/bucket:Bucket",
      name: "b",
      custom: true,
      props: { acl: "public-read" } as pulumi.Inputs,
    };
    const [violation] = evaluateGuardrails(resource, BUILT_IN_RULES, { "no-public-bucket": "static assets" });
    expect(violation).toMatchObject({
      ruleId: "no-public-bucket",
      severity: "error",
      waivedBecause: "static assets",
    });
    expect(evaluateGuardrails(resource, BUILT_IN_RULES, {}, { "no-public-bucket": "off" })).toEqual([]);
  });

  it("lists every broken rule of a resource in one error", async () => {
    const error = await rejected<GuardrailViolationError>(
      declare(() => {
        enableGuardrails({ log: recorder() });
        new k8s.apps.v1.Deployment("raw", {
          spec: {
            selector: { matchLabels: { app: "raw" } },
            template: { spec: { containers: [{ name: "raw", image: "nginx:latest" }] } },
          },
        });
      }),
    );
    expect(error).toBeInstanceOf(GuardrailViolationError);
    expect(error.violations.map((v) => v.ruleId)).toEqual(["container-resource-limits", "no-latest-tag"]);
    expect(error.message).toMatch(/^2 guardrail violations:\n {2}- guardrail `container-resource-limits`/);
  });
});
