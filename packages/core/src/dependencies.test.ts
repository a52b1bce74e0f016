import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { dependencyOutputs } from "./dependencies.js";
import { DriftlessError } from "./errors.js";

describe("dependencyOutputs", () => {
  afterEach(() => pulumi.runtime.setAllConfig({}));
  const pass = (value: string) => pulumi.runtime.setConfig(`${pulumi.getProject()}:deps.network`, value);

  it("returns a dependency's outputs with their JSON types", () => {
    pass(JSON.stringify({ vpcId: "vpc-1", subnetIds: ["a", "b"], size: 3 }));
    const network = dependencyOutputs<{ vpcId: string; subnetIds: string[]; size: number }>("network", [
      "vpcId",
      "subnetIds",
    ]);
    expect(network).toEqual({ vpcId: "vpc-1", subnetIds: ["a", "b"], size: 3 });
  });

  it("names a dependency that passed nothing, a missing output and a malformed value", () => {
    expect(() => dependencyOutputs("network")).toThrowError(
      /dependency "network" passed no outputs \(config `deps.network` is not set\)/,
    );
    pass(JSON.stringify({ vpcId: "vpc-1" }));
    expect(() =>
      dependencyOutputs<{ vpcId: string; zone: string }>("network", ["vpcId", "zone"]),
    ).toThrowError(/dependency "network" has no output "zone" \(it has: vpcId\)/);
    pass("[1]");
    expect(() => dependencyOutputs("network")).toThrowError(DriftlessError);
    pass("{not json");
    expect(() => dependencyOutputs("network")).toThrowError(
      /must be a JSON object of outputs, got "\{not json"/,
    );
  });
});
