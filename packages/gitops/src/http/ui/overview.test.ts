// The overview row and a target's runs table: mode, next branch and drift
// checks, "behind Git", relative times with a zone, durations, change counts
// and commit links for known Git hosts.
import { describe, expect, it } from "vitest";
import { rowHtml } from "./overview.js";
import { commitUrl, relativeTime, timeText } from "./state.js";

const view = { base: "/ui", session: undefined, canAct: false };
const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("the overview", () => {
  it("shows the mode, both next checks, behind Git, durations and a commit link", () => {
    const soon = new Date(Date.now() + 4 * 60_000).toISOString();
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const row = rowHtml(view, {
      name: "site",
      state: "Ready",
      reason: "Applied",
      message: "",
      revision: SHA,
      mode: "detect",
      repo: "git@github.com:acme/infra.git",
      behind: true,
      lastRun: {
        id: "r1",
        result: "applied",
        at: new Date(Date.now() - 3 * 60_000).toISOString(),
        durationMs: 12_300,
      },
      nextCheck: soon,
      nextDriftCheck: later,
    }).toString();
    expect(row).toContain('<td data-label="Mode">detect</td>');
    expect(row).toContain(`href="https://github.com/acme/infra/commit/${SHA}"`);
    expect(row).toContain("behind Git");
    expect(row).toMatch(
      /branch <time datetime="[^"]+" title="[^"]+">in 4 min \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)<\/time>/,
    );
    expect(row).toMatch(/drift <time[^>]*>in 2 h /);
    expect(row).toContain("3 min ago");
    expect(row).toContain("in 12.3 s");
  });

  it("says beside the state when whether the target drifted is not known", () => {
    const base = { name: "site", state: "Ready", reason: "Applied", message: "" } as const;
    const unchecked = rowHtml(view, {
      ...base,
      driftUnchecked: "not checked since 2026-12-01T10:00:00.000Z: run r2 ended before its preview finished",
    }).toString();
    expect(unchecked).toContain(
      '<span class="badge unchecked" title="not checked since 2026-12-01T10:00:00.000Z: run r2 ended before its preview finished">drift not checked</span>',
    );
    expect(rowHtml(view, base).toString()).not.toContain("drift not checked");
  });

  it("links commits only on hosts whose commit pages are known", () => {
    expect(commitUrl("https://github.com/acme/infra.git", SHA)).toBe(
      `https://github.com/acme/infra/commit/${SHA}`,
    );
    expect(commitUrl("https://token@gitlab.com/acme/infra", SHA)).toBe(
      `https://gitlab.com/acme/infra/-/commit/${SHA}`,
    );
    expect(commitUrl("ssh://git@bitbucket.org/acme/infra.git", SHA)).toBe(
      `https://bitbucket.org/acme/infra/commits/${SHA}`,
    );
    expect(commitUrl("https://git.internal.example/acme/infra.git", SHA)).toBeUndefined();
    expect(commitUrl("file:///srv/git/infra.git", SHA)).toBeUndefined();
  });

  it("says times relative to now, with the absolute time and its zone", () => {
    const now = Date.parse("2026-01-01T12:00:00.000Z");
    expect(relativeTime("2026-01-01T11:57:00.000Z", now)).toBe("3 min ago");
    expect(relativeTime("2026-01-03T12:00:00.000Z", now)).toBe("in 2 days");
    expect(relativeTime("2026-01-01T12:00:10.000Z", now)).toBe("in a moment");
    expect(timeText("2026-01-01T10:00:00.000Z", now)).toBe("2 h ago (2026-01-01 10:00 UTC)");
  });
});
