import { describe, expect, it } from "vitest";
import { EngineProgressRenderer } from "./engineEvents.js";

describe("engine progress in the run log", () => {
  const urn = "urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::old.html";
  const type = "pulumi-nodejs:dynamic:Resource";

  it("says a preview's steps are planned, never done", () => {
    const lines = new EngineProgressRenderer();
    expect(lines.render({ kind: "resource", op: "delete", urn, type, done: false, preview: true })).toBe(
      `plan delete ${urn}`,
    );
    expect(
      lines.render({ kind: "resource", op: "delete", urn, type, done: true, preview: true }),
    ).toBeUndefined();
    expect(lines.render({ kind: "resource", op: "delete", urn, type, done: true })).toBe(
      `done delete ${urn}`,
    );
    expect(lines.render({ kind: "resource", op: "same", urn, type, done: true })).toBeUndefined();
    expect(lines.render({ kind: "resource", op: "refresh", urn, type, done: true, preview: true })).toBe(
      `refreshed ${urn}`,
    );
  });

  it("says a repeated warning once and leaves the RPC trace out", () => {
    const lines = new EngineProgressRenderer();
    const path = {
      kind: "diagnostic",
      severity: "warning",
      message: "using pulumi-language-nodejs from $PATH\n",
    } as const;
    expect(lines.render(path)).toBe("warning: using pulumi-language-nodejs from $PATH");
    expect(lines.render(path)).toBeUndefined();
    expect(lines.render({ kind: "diagnostic", severity: "info", message: "hello" })).toBe("info: hello");
    expect(lines.render({ kind: "diagnostic", severity: "info", message: "hello" })).toBe("info: hello");
    expect(
      lines.render({
        kind: "diagnostic",
        severity: "debug",
        message: "RegisterResource RPC finished: __provider",
      }),
    ).toBeUndefined();
  });
});
