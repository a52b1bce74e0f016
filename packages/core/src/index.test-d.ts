import type { ComponentResourceOptions } from "@pulumi/pulumi";
import { describe, expectTypeOf, it } from "vitest";
import {
  type Bucket,
  type BucketArgs,
  type Database,
  type DatabaseArgs,
  type NatMode,
  type Network,
  type NetworkArgs,
  ServiceRole,
  Statement,
  Trust,
} from "./aws/index.js";
import { enableGuardrails, type GuardrailOptions, waive } from "./index.js";
import {
  type CronTask,
  type CronTaskArgs,
  EnvFrom,
  EnvValue,
  Mount,
  type Namespace,
  type NamespaceArgs,
  Probe,
  WebService,
  type WebServiceArgs,
  type Worker,
  type WorkerArgs,
} from "./k8s/index.js";

describe("public argument types", () => {
  it("accepts well-typed WebService arguments and rejects wrong ones", () => {
    expectTypeOf<{ image: string; replicas: number; readiness: Probe }>().toExtend<WebServiceArgs>();
    // @ts-expect-error replicas is a number
    const bad1: WebServiceArgs = { image: "a:1", replicas: "3" };
    // @ts-expect-error image is required
    const bad2: WebServiceArgs = { replicas: 2 };
    // @ts-expect-error probes are built with Probe.http/Probe.tcp, not loose objects
    const bad3: WebServiceArgs = { image: "a:1", readiness: { path: "/healthz", port: 80 } };
    // @ts-expect-error env values are strings or EnvValue
    const bad4: WebServiceArgs = { image: "a:1", env: { PORT: 8080 } };
    // @ts-expect-error seccompProfile is a closed choice
    const bad5: WebServiceArgs = { image: "a:1", securityContext: { seccompProfile: "Localhost" } };
    // @ts-expect-error skipAwait is a boolean
    const bad6: WebServiceArgs = { image: "a:1", skipAwait: "true" };
    void [bad1, bad2, bad3, bad4, bad5, bad6];
    // @ts-expect-error Mount factories take the path first, then the source
    Mount.configMap("/etc/app", 42);
    // @ts-expect-error serviceType is a closed choice
    const serviceType: WebServiceArgs = { image: "a:1", serviceType: "External" };
    void serviceType;
    expectTypeOf(Probe.http).parameters.toEqualTypeOf<
      [string, number?, import("./k8s/index.js").ProbeOptions?]
    >();
    expectTypeOf(EnvValue.secret("s", "k")).toEqualTypeOf<EnvValue>();
    expectTypeOf(EnvFrom.configMap("c")).toEqualTypeOf<EnvFrom>();
    expectTypeOf(WebService).constructorParameters.toExtend<[string, WebServiceArgs, ...unknown[]]>();
  });

  it("types closed choices as string-literal unions", () => {
    expectTypeOf<NatMode>().toEqualTypeOf<"none" | "single" | "perAz">();
    expectTypeOf<NonNullable<CronTaskArgs["concurrencyPolicy"]>>().toEqualTypeOf<
      "Allow" | "Forbid" | "Replace"
    >();
    // @ts-expect-error nat is a closed choice
    const bad1: NetworkArgs = { availabilityZones: ["eu-west-1a"], nat: "double" };
    // @ts-expect-error schedule is required
    const bad2: CronTaskArgs = { image: "a:1" };
    // @ts-expect-error podSecurity is a closed choice
    const bad3: NamespaceArgs = { podSecurity: "loose" };
    // @ts-expect-error replicas is a number
    const bad4: WorkerArgs = { image: "a:1", replicas: [1] };
    void [bad1, bad2, bad3, bad4];
  });

  it("rejects wrong AWS argument types", () => {
    // @ts-expect-error allowIngressFrom is required
    const bad1: DatabaseArgs = { subnetIds: ["a", "b"] };
    const bad2: BucketArgs = {
      // @ts-expect-error lifecycle transitions need a known storage class
      lifecycleRules: [{ id: "a", transitions: [{ days: 1, storageClass: "COLD" }] }],
    };
    // @ts-expect-error versioning is a boolean
    const bad3: BucketArgs = { versioning: "on" };
    void [bad1, bad2, bad3];
    new ServiceRole("r", {
      trust: Trust.service("lambda.amazonaws.com"),
      // @ts-expect-error statements are built with Statement.allow/deny
      statements: [{ Action: "*", Resource: "*" }],
    });
    // @ts-expect-error trust is built with Trust.service/oidc
    new ServiceRole("r", { trust: "lambda.amazonaws.com" });
    expectTypeOf(Statement.allow(["s3:GetObject"], ["arn"])).toEqualTypeOf<Statement>();
  });

  it("types guardrail options and waivers", () => {
    // @ts-expect-error severity is "error" | "warning" | "off"
    const bad: GuardrailOptions = { severityOverrides: { "no-latest-tag": "fatal" } };
    void bad;
    expectTypeOf(enableGuardrails).returns.toEqualTypeOf<{
      readonly mode: "engine" | "in-process" | "inactive";
    }>();
    const opts: ComponentResourceOptions = { protect: true };
    expectTypeOf(waive("no-latest-tag", "reason", opts)).toEqualTypeOf<ComponentResourceOptions>();
    // @ts-expect-error a waiver needs a reason
    waive("no-latest-tag");
  });

  it("exposes typed outputs", () => {
    expectTypeOf<WebService["dnsName"]>().toEqualTypeOf<import("@pulumi/pulumi").Output<string>>();
    expectTypeOf<Network["plan"]["public"]>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<Database["passwordSource"]>().toEqualTypeOf<"given" | "derived" | "rdsManaged">();
    expectTypeOf<Bucket["websiteEndpoint"]>().toEqualTypeOf<
      import("@pulumi/pulumi").Output<string | undefined>
    >();
    expectTypeOf<Worker>().toHaveProperty("deployment");
    expectTypeOf<CronTask>().toHaveProperty("cronJob");
    expectTypeOf<Namespace>().toHaveProperty("denyAll");
  });
});
