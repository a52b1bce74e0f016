import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["90s", 90_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["2d", 172_800_000],
    ["1h30m", 5_400_000],
    ["1m30s500ms", 90_500],
    ["1.5h", 5_400_000],
    [" 10s ", 10_000],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it("takes finite non-negative numbers as milliseconds", () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1234)).toBe(1234);
  });

  it.each([["soon"], [""], ["5"], ["5M"], ["-5m"], ["5 m"], ["m5"], ["1h 30m"], ["5mins"], [".5s"]])(
    "rejects %j",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY]])("rejects the number %d", (n) => {
    expect(parseDuration(n)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0ms"],
    [999, "999ms"],
    [1500, "1500ms"],
    [10_000, "10s"],
    [90_000, "90s"],
    [300_000, "5m"],
    [5_400_000, "90m"],
    [7_200_000, "2h"],
    [86_400_000, "24h"],
  ])("writes %d ms as %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("round-trips through parseDuration", () => {
    for (const ms of [
      0, 1, 999, 1000, 1001, 59_999, 60_000, 61_000, 3_599_000, 3_600_000, 3_660_000, 86_400_000,
    ]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
    for (const text of ["250ms", "10s", "5m", "2h"]) {
      expect(formatDuration(parseDuration(text) as number)).toBe(text);
    }
  });
});
