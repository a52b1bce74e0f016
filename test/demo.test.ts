// `make demo` in its quick mode: the newcomer path must keep working.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { engineSandbox } from "./support/engine.js";

const demo = fileURLToPath(new URL("../scripts/demo.mjs", import.meta.url));

describe("make demo", () => {
  const sandbox = engineSandbox("driftless-demo-");
  afterAll(() => sandbox.dispose());

  it("applies, corrects drift, stops a broken commit and recovers", async () => {
    const data = join(sandbox.dir, "demo");
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [demo, "--quick", "--data", data],
      {
        env: { ...process.env, ...sandbox.env },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(stdout).toContain("step 8: status and history");
    // Nothing a newcomer should worry about, nor a command for a server that is gone once it ends.
    expect(stderr).not.toContain("cloned an empty repository");
    expect(stdout).not.toContain("curl ");
    expect(stdout).not.toMatch(/ 0 ms/);
    const summary = JSON.parse(readFileSync(join(data, "summary.json"), "utf8"));
    expect(summary.results).toEqual(["applied", "applied", "drift-corrected", "stalled", "unchanged"]);
    const ready = summary.status.conditions.find((c: { type: string }) => c.type === "Ready");
    expect(ready.status).toBe(true);
    expect(readFileSync(join(data, "site", "contact.html"), "utf8")).toContain("Contact");
  });
});
