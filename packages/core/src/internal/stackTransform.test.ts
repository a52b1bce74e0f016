import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { declare } from "../../test/harness.js";
import { registerPropsTransform } from "./stackTransform.js";

describe("registerPropsTransform", () => {
  afterEach(() => vi.restoreAllMocks());

  it("falls back to an in-process stack transformation under mocks", async () => {
    const seen: string[] = [];
    const { result } = await declare(() => {
      const mode = registerPropsTransform((r) => {
        seen.push(`${r.custom ? "custom" : "component"} ${r.type}`);
        return undefined;
      });
      new pulumi.ComponentResource("test:index:Thing", "thing");
      return mode;
    });
    expect(result).toBe("in-process");
    expect(seen).toEqual(["component test:index:Thing"]);
  });

  it("uses the engine's resource transforms when the monitor supports them", async () => {
    const registered: pulumi.ResourceTransform[] = [];
    vi.spyOn(pulumi.runtime, "getMonitor").mockReturnValue(
      {} as ReturnType<typeof pulumi.runtime.getMonitor>,
    );
    vi.spyOn(pulumi.runtime, "registerResourceTransform").mockImplementation((t) => {
      registered.push(t);
    });
    const mode = registerPropsTransform((r) =>
      r.type === "a:b:C" ? { ...r.props, stamped: true } : undefined,
    );
    expect(mode).toBe("engine");
    const transform = registered.at(-1) as pulumi.ResourceTransform;
    const opts = { protect: true };
    expect(await transform({ type: "a:b:C", name: "n", custom: true, props: { x: 1 }, opts })).toEqual({
      props: { x: 1, stamped: true },
      opts,
    });
    expect(await transform({ type: "a:b:D", name: "n", custom: true, props: {}, opts })).toBeUndefined();
  });
});
