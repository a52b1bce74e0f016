import { describe, expect, it } from "vitest";
import { resolveTarget } from "./spec.js";
import { checkWindows, type ResolvedWindows } from "./windows.js";

const HOUR = 3_600_000;
const windows = (extra: Partial<ResolvedWindows>): ResolvedWindows => ({
  allow: [],
  deny: [],
  durationMs: 2 * HOUR,
  timezone: "UTC",
  ...extra,
});
const at = (iso: string) => new Date(iso);

describe("change windows", () => {
  // Weekdays 09:00–11:00 UTC; 2026-11-24 is a Tuesday.
  const weekdayMornings = windows({ allow: ["0 9 * * 1-5"] });

  it("is open inside an allow window, from its tick until the duration ends", () => {
    expect(checkWindows(weekdayMornings, at("2026-11-24T09:00:00Z")).open).toBe(true);
    expect(checkWindows(weekdayMornings, at("2026-11-24T10:59:59Z")).open).toBe(true);
    expect(checkWindows(weekdayMornings, at("2026-11-24T11:00:00Z"))).toEqual({
      open: false,
      blockedBy: "allow",
      opensAt: at("2026-11-25T09:00:00Z"),
    });
  });

  it("finds the next allow window across a weekend", () => {
    expect(checkWindows(weekdayMornings, at("2026-11-28T10:00:00Z"))).toMatchObject({
      open: false,
      opensAt: at("2026-11-30T09:00:00Z"),
    });
  });

  it("closes inside a deny window even within an allow window, and opens when it ends", () => {
    const frozen = windows({ allow: ["0 9 * * *"], deny: ["30 9 * * *"], durationMs: 2 * HOUR });
    expect(checkWindows(frozen, at("2026-11-24T09:10:00Z")).open).toBe(true);
    // The deny window (09:30–11:30) outlasts the allow window (09:00–11:00):
    // the next moment both allow is the next day's allow tick.
    expect(checkWindows(frozen, at("2026-11-24T09:45:00Z"))).toEqual({
      open: false,
      blockedBy: "deny",
      opensAt: at("2026-11-25T09:00:00Z"),
    });
  });

  it("with only deny windows, is open outside them", () => {
    const nightly = windows({ deny: ["0 22 * * *"], durationMs: 10 * HOUR });
    expect(checkWindows(nightly, at("2026-11-24T12:00:00Z")).open).toBe(true);
    expect(checkWindows(nightly, at("2026-11-24T23:00:00Z"))).toEqual({
      open: false,
      blockedBy: "deny",
      opensAt: at("2026-11-25T08:00:00Z"),
    });
  });

  it("reads cron expressions in the given time zone", () => {
    const berlin = windows({ allow: ["0 9 * * *"], timezone: "Europe/Berlin" });
    expect(checkWindows(berlin, at("2026-11-24T08:30:00Z")).open).toBe(true);
    expect(checkWindows(berlin, at("2026-11-24T07:30:00Z"))).toMatchObject({
      opensAt: at("2026-11-24T08:00:00Z"),
    });
  });

  it("validates windows in the target spec", () => {
    const base = { name: "app", repo: "https://example.com/x.git", stack: "dev" };
    const resolved = resolveTarget(
      { ...base, windows: { allow: ["0 9 * * 1-5"], duration: "2h" } },
      { dataDir: "/d" },
    );
    expect(resolved.windows).toEqual({
      allow: ["0 9 * * 1-5"],
      deny: [],
      durationMs: 2 * HOUR,
      timezone: undefined,
    });
    expect(() => resolveTarget({ ...base, windows: { duration: "1h" } }, { dataDir: "/d" })).toThrowError(
      /`windows` must list at least one `allow` or `deny` window/,
    );
    expect(() =>
      resolveTarget({ ...base, windows: { allow: ["nope"], duration: "1h" } }, { dataDir: "/d" }),
    ).toThrowError(/`windows.allow\[0\]` is not a cron expression, got "nope"/);
    expect(() =>
      resolveTarget(
        { ...base, windows: { deny: ["* * * * *"], duration: "1h", timezone: "Mars/Olympus" } },
        { dataDir: "/d" },
      ),
    ).toThrowError(/`windows.timezone` is not an IANA time zone/);
    expect(() => resolveTarget({ ...base, requireApproval: "yes" }, { dataDir: "/d" })).toThrowError(
      /`requireApproval` must be true, false or "destructive"/,
    );
  });
});
