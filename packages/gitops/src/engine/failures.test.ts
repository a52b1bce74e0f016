import { ConcurrentUpdateError } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { CancelledError, RetryableError, SetupError, StalledError } from "../errors.js";
import { loadAutomation } from "./automation.js";
import { StepCollector } from "./events.js";
import { guard, isTornCheckpointRead, missingSetup, waitWhileLocked } from "./failures.js";

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
    // The CLI runner loads the Automation API before any of its errors can exist.
    await loadAutomation();
    const concurrent = new ConcurrentUpdateError(
      Object.assign(new Error("conflict"), { stdout: "", stderr: "", code: 255 }) as never,
    );
    await expect(guard(undefined, () => Promise.reject(concurrent))).rejects.toBeInstanceOf(RetryableError);
  });

  it("retries a provider call that failed on a resource, and stalls on an error of the program", async () => {
    const failed = Object.assign(new Error("command failed"), { stderr: "error: update failed" });
    const diagnostic = (urn: string) => ({
      diagnosticEvent: { severity: "error", message: "timed out waiting to be Ready", urn, color: "never" },
    });
    const apply = new StepCollector();
    apply.onEvent(diagnostic("urn:pulumi:dev::shop::kubernetes:apps/v1:Deployment::api") as never);
    await expect(guard(undefined, () => Promise.reject(failed), apply)).rejects.toBeInstanceOf(
      RetryableError,
    );
    const program = new StepCollector();
    program.onEvent(diagnostic("urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev") as never);
    await expect(guard(undefined, () => Promise.reject(failed), program)).rejects.toBeInstanceOf(
      StalledError,
    );
    // A preview's resource errors are the program's inputs the provider refused: stalled.
    const preview = new StepCollector(undefined, true);
    preview.onEvent(diagnostic("urn:pulumi:dev::shop::kubernetes:apps/v1:Deployment::api") as never);
    await expect(guard(undefined, () => Promise.reject(failed), preview)).rejects.toBeInstanceOf(
      StalledError,
    );
  });

  it("clears a lock whose owner died and tries again at once, saying so", async () => {
    const locked = Object.assign(new Error("command failed"), {
      stderr: "error: the stack is currently locked by 1 lock(s).",
    });
    let attempts = 0;
    const messages: string[] = [];
    const result = await waitWhileLocked(
      { stack: "dev" } as never,
      { onProgress: (event) => event.kind === "diagnostic" && messages.push(event.message) },
      async () => {
        attempts++;
        if (attempts === 1) throw locked;
        return "done";
      },
      undefined,
      async () => ["removed a stale lock on site/dev left by process 4242"],
    );
    expect(result).toBe("done");
    expect(attempts).toBe(2);
    expect(messages).toEqual(["removed a stale lock on site/dev left by process 4242"]);
  });

  it("reads a checkpoint again when another process's write tore the first read, a bounded number of times", async () => {
    // What `pulumi preview` printed while another process's `up` rewrote the file backend's checkpoint.
    const torn = Object.assign(new Error("command failed"), {
      stderr: "error: failed to load checkpoint: EOF",
    });
    expect(isTornCheckpointRead(torn)).toBe(true);
    expect(isTornCheckpointRead(new Error("failed to load checkpoint: unexpected end of JSON input"))).toBe(
      true,
    );
    expect(isTornCheckpointRead(new Error("failed to load checkpoint: permission denied"))).toBe(false);
    let attempts = 0;
    const messages: string[] = [];
    const result = await waitWhileLocked(
      { stack: "dev" } as never,
      { onProgress: (event) => event.kind === "diagnostic" && messages.push(event.message) },
      async () => {
        attempts++;
        if (attempts === 1) throw torn;
        return "planned";
      },
    );
    expect(result).toBe("planned");
    expect(messages).toEqual(["stack dev's state was being written by another process; reading it again"]);
    // A checkpoint that stays unreadable is not a race: it fails after a few tries.
    attempts = 0;
    await expect(
      waitWhileLocked({ stack: "dev" } as never, {}, async () => {
        attempts++;
        throw torn;
      }),
    ).rejects.toBe(torn);
    expect(attempts).toBe(4);
  });

  it("reports an aborted operation as cancelled", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(guard(controller.signal, () => Promise.reject(new Error("killed")))).rejects.toBeInstanceOf(
      CancelledError,
    );
  });
});

describe("a setup the engine lacks", () => {
  const failure = (stderr: string) => Object.assign(new Error("command failed"), { stderr });

  it("retries a missing plugin as a setup error that says what is missing and how to provide it", async () => {
    const missing = failure(
      "error: could not load plugin for pulumi-nodejs provider: no resource plugin 'pulumi-resource-pulumi-nodejs' found in the workspace or on your $PATH",
    );
    const error = await guard(undefined, () => Promise.reject(missing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupError);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).not.toBeInstanceOf(StalledError);
    expect((error as Error).message).toMatch(/no resource plugin `pulumi-resource-pulumi-nodejs`/);
    expect((error as Error).message).toMatch(/complete Pulumi CLI, or put the plugin on the engine's PATH/);
    expect((error as RetryableError).retryAfterMs).toBeGreaterThan(0);

    // Downloads switched on but no network: the same setup error, not ProgramFailed.
    const download = failure(
      "error: Could not automatically download and install resource plugin 'pulumi-resource-random' at version v4.16.0, install the plugin using `pulumi plugin install resource random v4.16.0`: dial tcp: lookup api.github.com: no such host",
    );
    const second = await guard(undefined, () => Promise.reject(download)).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(SetupError);
    expect((second as Error).message).toMatch(
      /`pulumi-resource-random`.*pulumi plugin install resource random/,
    );
  });

  it("names a tool missing from the engine's PATH", () => {
    expect(missingSetup('exec: "npm": executable file not found in $PATH')).toMatch(
      /`npm` is not on the engine's PATH/,
    );
    expect(missingSetup("Error: spawn pulumi ENOENT")).toMatch(/`pulumi` is not on the engine's PATH/);
    expect(missingSetup("error: Running program failed: TypeError: x is undefined")).toBeUndefined();
  });
});
