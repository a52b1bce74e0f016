import { describe, expect, it } from "vitest";
import { sameJson, yamlPackage } from "./util.js";

describe("sameJson", () => {
  it("compares JSON values by content, key order aside", () => {
    expect(sameJson({ a: 1, b: [1, "x", null, { c: true }] }, { b: [1, "x", null, { c: true }], a: 1 })).toBe(
      true,
    );
    expect(sameJson("x", "x")).toBe(true);
    expect(sameJson(null, null)).toBe(true);
  });

  it("tells apart values that differ anywhere", () => {
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameJson({ a: undefined }, {})).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson([1], { 0: 1 })).toBe(false);
    expect(sameJson({ 0: 1 }, [1])).toBe(false);
    expect(sameJson(null, {})).toBe(false);
    expect(sameJson(1, "1")).toBe(false);
    expect(sameJson({ a: { b: [1] } }, { a: { b: [1, 2] } })).toBe(false);
  });
});

describe("yamlPackage", () => {
  it("loads the yaml package once, when first asked", () => {
    expect(yamlPackage().parse("a: 1")).toEqual({ a: 1 });
    expect(yamlPackage()).toBe(yamlPackage());
  });
});
