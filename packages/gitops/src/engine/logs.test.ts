// The Pulumi CLI's own log files ($PULUMI_HOME/logs, one per invocation) stay
// bounded: the real CLI prunes them with the reconciler's tighter defaults,
// and a user's own bounds win.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPulumi } from "./pulumiCommand.js";

/** A log file name as the CLI writes it, from `daysAgo` days back (its local time). */
function logName(daysAgo: number): string {
  const d = new Date(Date.now() - daysAgo * 24 * 3600 * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}T${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
  return `pulumi-${stamp}-4242-preview.log`;
}

describe("the engine's own logs", () => {
  let home: string;
  let logs: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "driftless-engine-logs-"));
    logs = join(home, "logs");
    mkdirSync(logs);
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("are pruned after a day by default, and the user's bounds win", async () => {
    const old = logName(3);
    writeFileSync(join(logs, old), "old");
    await runPulumi("pulumi", ["version"], home, { PULUMI_HOME: home });
    expect(existsSync(join(logs, old))).toBe(false);
    // The CLI's own file of this invocation is there: logging itself still works.
    expect(readdirSync(logs).some((f) => f.endsWith("-version.log"))).toBe(true);

    writeFileSync(join(logs, old), "old");
    await runPulumi("pulumi", ["version"], home, {
      PULUMI_HOME: home,
      PULUMI_LOG_ROTATION_MAX_AGE_DAYS: "30",
    });
    expect(existsSync(join(logs, old))).toBe(true);
  });
});
