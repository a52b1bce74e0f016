import { ConcurrentUpdateError } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { EngineProgressRenderer, guard } from "./engine.js";
import { CancelledError, RetryableError, StalledError } from "./errors.js";

describe("engine error policy", () => {
  it("retries only the engine's own 'locked by another update', not a program error that says conflict", async () => {
    const program = Object.assign(new Error("command failed"), {
      stderr: "error: Running program failed: merge conflict in config: two values for `replicas`",
    });
    await expect(guard(undefined, () => Promise.reject(program))).rejects.toBeInstanceOf(StalledError);
    const locked = Object.assign(new Error("command failed"), {
      stderr:
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end",
    });
    await expect(guard(undefined, () => Promise.reject(locked))).rejects.toBeInstanceOf(RetryableError);
    const concurrent = new ConcurrentUpdateError(
      Object.assign(new Error("conflict"), { stdout: "", stderr: "", code: 255 }) as never,
    );
    await expect(guard(undefined, () => Promise.reject(concurrent))).rejects.toBeInstanceOf(RetryableError);
  });

  it("reports an aborted operation as cancelled", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(guard(controller.signal, () => Promise.reject(new Error("killed")))).rejects.toBeInstanceOf(
      CancelledError,
    );
  });
});

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
