// How the Pulumi CLI is started and stopped, so that nothing a run starts
// outlives it, and nothing the host process does with its signals reaches the
// engine unasked.
//
// The Automation API starts the CLI through execa, which registers signal-exit:
// on SIGINT/SIGTERM it kills the CLI and, when it counts no other listener (a
// host's `process.once` listener is already removed when it counts), re-raises
// the signal and kills the host. This module implements the same contract as
// `PulumiCommand.run` with `child_process.spawn`, so neither happens:
//
// - The CLI runs in its own session: a signal to the host's process group (a
//   terminal's Ctrl-C, a supervisor) reaches the host, which cancels runs
//   through the engine after its grace period, instead of the engine directly.
// - The CLI runs under driftless-reaper (see dieWithThisProcessTree): if the
//   host dies, even by SIGKILL, the reaper SIGKILLs the CLI and every process
//   below it, plugins included. Without the reaper the CLI gets a
//   parent-death signal alone and its plugins must notice their engine is
//   gone (language hosts watch it; providers built with Pulumi's Go SDK only
//   every few minutes).
// - Every process of an invocation carries an engine tag in its environment;
//   when the CLI has exited, anything still carrying the tag is killed, and a
//   new engine kills what a dead owner left behind.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { PulumiCommand } from "@pulumi/pulumi/automation/index.js";
import { TargetLostError } from "../errors.js";
import { loadAutomation } from "./automation.js";
import { ENGINE_ENV_ALLOWLIST, inheritedEnv } from "./env.js";
import { dieWithThisProcessTree, ENGINE_TAG_ENV, killEngineProcesses, newEngineTag } from "./process.js";

/** After a cancellation, how long the CLI gets to stop cleanly before it is killed. */
export const CANCEL_KILL_AFTER_MS = 30_000;

/** The exit code the Automation API reports when the CLI did not exit normally. */
const UNKNOWN_EXIT_CODE = -2;

/** A command's outcome, as the Automation API's workspaces and stacks read it. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
  readonly err?: Error;
}

/**
 * The Automation API's result class and the function that maps a failed
 * command's output to its error classes (ConcurrentUpdateError, …), as its own
 * runner uses them: exported at runtime, left out of its type declarations.
 */
interface CommandInternals {
  readonly CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => CommandResult;
  createCommandError(result: CommandResult): Error;
}

/** The `run` contract of the Automation API's PulumiCommand (marked internal there). */
type RunCommand = (
  args: string[],
  cwd: string,
  additionalEnv: { [key: string]: string },
  onOutput?: (data: string) => void,
  onError?: (data: string) => void,
  signal?: AbortSignal,
) => Promise<CommandResult>;

/**
 * The Pulumi CLI on PATH as a `PulumiCommand` for `LocalWorkspace`, started
 * with {@link runPulumi}. Kills what earlier, dead owners left behind first.
 */
export async function guardedPulumiCommand(
  command = "pulumi",
  cancelGraceMs = CANCEL_KILL_AFTER_MS,
): Promise<PulumiCommand> {
  killEngineProcesses();
  const { PulumiCommand } = await loadAutomation();
  const { stdout } = await runPulumi(command, ["version"], process.cwd(), {});
  const cli = Object.create(PulumiCommand.prototype) as PulumiCommand & { run: RunCommand };
  const run: RunCommand = (args, cwd, additionalEnv, onOutput, onError, signal) => {
    // As the Automation API does: commands must fail rather than prompt.
    const full = args.includes("--non-interactive") ? args : [...args, "--non-interactive"];
    return runPulumi(
      command,
      full,
      cwd,
      { ...additionalEnv, PULUMI_AUTOMATION_API: "true" },
      { onOutput, onError, signal, cancelGraceMs },
    );
  };
  Object.defineProperties(cli, {
    command: { value: command, enumerable: true },
    version: { value: parseVersion(stdout.trim()), enumerable: true },
    run: { value: run },
  });
  return cli;
}

/**
 * The CLI's version as the SemVer class the Automation API compares with: the
 * `semver` that @pulumi/pulumi itself resolves, since `instanceof` must hold.
 */
function parseVersion(text: string): PulumiCommand["version"] {
  const sdk = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi/automation/index.js"));
  const semver = sdk("semver") as { parse(v: string): PulumiCommand["version"] };
  return semver.parse(text);
}

/**
 * Every CLI invocation writes its own log file to `$PULUMI_HOME/logs` and
 * prunes that directory as it starts; Pulumi keeps a week and 500 MB by
 * default, which a reconciler running the engine every few minutes reaches.
 * These tighter bounds apply unless the environment sets its own.
 */
export const ENGINE_LOG_ROTATION: Readonly<Record<string, string>> = {
  PULUMI_LOG_ROTATION_MAX_AGE_DAYS: "1",
  PULUMI_LOG_ROTATION_MAX_TOTAL_MB: "50",
};

/** Streams and cancellation of one CLI invocation. */
export interface RunPulumiOptions {
  readonly onOutput?: ((data: string) => void) | undefined;
  readonly onError?: ((data: string) => void) | undefined;
  /**
   * Aborting sends SIGINT (the engine cancels cleanly), then SIGKILL after
   * {@link CANCEL_KILL_AFTER_MS}; aborting with a `TargetLostError` SIGKILLs
   * the CLI and its plugins at once.
   */
  readonly signal?: AbortSignal | undefined;
  /** How long a cancelled CLI gets after SIGINT before it is SIGKILLed. @default CANCEL_KILL_AFTER_MS */
  readonly cancelGraceMs?: number | undefined;
}

/**
 * Runs one CLI command and resolves its output; rejects with the Automation
 * API's error classes (ConcurrentUpdateError, StackNotFoundError, …) as
 * `PulumiCommand.run` does. Whatever way the CLI ends, the processes it
 * started that are still running when it has exited are killed right after.
 * The CLI receives {@link ENGINE_ENV_ALLOWLIST} of this process's environment, and `env`.
 */
export async function runPulumi(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>>,
  options: RunPulumiOptions = {},
): Promise<CommandResult> {
  const { CommandResult, createCommandError } = (await loadAutomation()) as unknown as CommandInternals;
  const tag = newEngineTag();
  const [file, argv] = dieWithThisProcessTree(command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd,
      // Never the whole environment: the program is the repository's code and
      // must not read this process's credentials. `env` carries the rest.
      env: { ...ENGINE_LOG_ROTATION, ...inheritedEnv(ENGINE_ENV_ALLOWLIST), ...env, [ENGINE_TAG_ENV]: tag },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (data: string) => {
      stdout += data;
      options.onOutput?.(data);
    });
    child.stderr.setEncoding("utf8").on("data", (data: string) => {
      stderr += data;
      options.onError?.(data);
    });

    let killTimer: NodeJS.Timeout | undefined;
    const cancel = () => {
      // A replica that lost the target must not let an in-flight operation finish: another may own the stack.
      if (signal?.reason instanceof TargetLostError) {
        killGroup(child.pid);
        killEngineProcesses(tag);
        return;
      }
      child.kill("SIGINT");
      killTimer = setTimeout(() => killGroup(child.pid), options.cancelGraceMs ?? CANCEL_KILL_AFTER_MS);
    };
    const { signal } = options;
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel, { once: true });

    let settled = false;
    const settle = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      signal?.removeEventListener("abort", cancel);
      if (result.code === 0) resolve(result);
      else reject(createCommandError(result));
      // The engine stops its plugins when it exits normally; this catches
      // those it could not (it was killed, a plugin ignored it). A scan of
      // /proc takes some milliseconds, so it does not hold up the result.
      setImmediate(() => killEngineProcesses(tag));
    };
    child.on("error", (error) => settle(new CommandResult(stdout, error.message, UNKNOWN_EXIT_CODE, error)));
    child.on("close", (code, exitSignal) => {
      if (code === 0) return settle(new CommandResult(stdout, stderr, 0));
      const how = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${code}`;
      const error = new Error(`\`pulumi ${args.join(" ")}\` ${how}`);
      settle(new CommandResult(stdout, stderr, code ?? UNKNOWN_EXIT_CODE, error));
    });
  });
}

/** SIGKILLs the process group the still running CLI leads. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
