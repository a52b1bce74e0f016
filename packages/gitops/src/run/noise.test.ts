// What a run's text log leaves out: steps that took no time, and the engine's
// warning about its own setup after the first run of the process.
import { describe, expect, it } from "vitest";
import { EngineProgressRenderer } from "../engine/events.js";
import { stepTimings } from "../http/ui/run.js";
import { stepsLine } from "./run.js";

describe("a run's log without noise", () => {
  it("names steps under a millisecond without '0 ms' in the [steps] line, which the run page still reads", () => {
    const line = stepsLine([
      { step: "resolveRevision", ms: 262.4 },
      { step: "decide", ms: 0.2 },
      { step: "acquire", ms: 0 },
      { step: "preview", ms: 1830 },
    ]);
    expect(line).toBe("resolveRevision 262 ms; decide; acquire; preview 1830 ms");
    const log = `2026-01-01T00:00:00.000Z [steps] ${line}`;
    expect(stepTimings({ log } as Parameters<typeof stepTimings>[0])).toEqual([
      { step: "resolveRevision", ms: 262 },
      { step: "decide", ms: 0 },
      { step: "acquire", ms: 0 },
      { step: "preview", ms: 1830 },
    ]);
    // Lines written before still read the same.
    const before = "2026-01-01T00:00:00.000Z [steps] resolveRevision 262 ms; decide 0 ms";
    expect(stepTimings({ log: before } as Parameters<typeof stepTimings>[0])).toEqual([
      { step: "resolveRevision", ms: 262 },
      { step: "decide", ms: 0 },
    ]);
  });

  it("says the engine's 'using … from $PATH' warning in the first run of the process only", () => {
    const warning = {
      kind: "diagnostic" as const,
      severity: "warning" as const,
      message:
        "using pulumi-language-nodejs from $PATH at /opt/toolchain-noise-test/bin/pulumi-language-nodejs expected /opt/pulumi/bin/pulumi-language-nodejs",
    };
    const other = { kind: "diagnostic" as const, severity: "warning" as const, message: "a program warning" };
    const first = new EngineProgressRenderer();
    expect(first.render(warning)).toMatch(/^warning: using pulumi-language-nodejs from \$PATH/);
    const second = new EngineProgressRenderer();
    expect(second.render(warning)).toBeUndefined();
    // Warnings of the program stay, run after run.
    expect(first.render(other)).toBe("warning: a program warning");
    expect(second.render(other)).toBe("warning: a program warning");
  });
});
