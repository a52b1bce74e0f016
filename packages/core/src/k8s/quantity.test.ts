import { describe, expect, it } from "vitest";
import { parseQuantity } from "./quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["1", 1],
    ["500m", 0.5],
    ["1.5", 1.5],
    [".5", 0.5],
    ["128Mi", 128 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["1G", 1e9],
    ["2k", 2000],
    ["1e3", 1000],
    ["100u", 1e-4],
  ])("parses %s", (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  it.each(["", "abc", "1 Gi", "1gi", "-1", "1.2.3"])("rejects %j", (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});
