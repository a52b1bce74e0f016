// The usual Pulumi unit-test pattern: setMocks, then import the program. The
// program calls enableProvenance/enableGuardrails first thing; that must not
// throw "The root stack resource was referenced before it was initialized".
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";

describe("a program imported under plain Pulumi mocks", { timeout: 30_000 }, () => {
  it("runs, with provenance and guardrails inactive and one warning saying how to apply them", async () => {
    const names: string[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          names.push(args.name);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "proj",
      "dev",
    );
    const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(async () => {});
    const { enableProvenance } = await import("./provenance/index.js");
    const { enableGuardrails } = await import("./policy/index.js");
    const { WebService } = await import("./k8s/webService.js");
    expect(enableProvenance({ env: {}, git: false }).mode).toBe("inactive");
    expect(enableGuardrails().mode).toBe("inactive");
    const web = new WebService("api", { image: "acme/api:1.0.0" });
    await new Promise((done) => web.urn.apply(done));
    expect(names).toContain("api");
    const inactive = warn.mock.calls.filter(([m]) => m.includes("provenance and guardrails are inactive"));
    expect(inactive).toHaveLength(1);
    expect(inactive[0]?.[0]).toContain("`runProgram` from `@driftless/core/testing`");
  });
});
