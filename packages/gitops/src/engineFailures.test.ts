import { ConcurrentUpdateError } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { guard } from "./engineFailures.js";
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
