import { describe, expect, it } from "vitest";
import { yamlPackage } from "./util.js";

describe("yamlPackage", () => {
  it("loads the yaml package once, when first asked", () => {
    expect(yamlPackage().parse("a: 1")).toEqual({ a: 1 });
    expect(yamlPackage()).toBe(yamlPackage());
  });
});
