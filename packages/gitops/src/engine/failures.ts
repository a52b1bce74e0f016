/**
 * How engine failures become the reconciler's errors: waiting while another
 * update holds the stack's lock, and mapping the rest to cancelled, retryable
 * or stalled with the lines of the failure a person needs.
 */

import { CancelledError, PlanDivergedError, RetryableError, SetupError, StalledError } from "../errors.js";
import { sleep } from "../util.js";
import { loadedAutomation } from "./automation.js";
import type { StepCollector } from "./events.js";
import { clearStaleLocks, projectName } from "./fileBackend.js";
import { clearStalePostgresLocks, isPostgresBackend } from "./postgresBackend.js";
import { compilerHint } from "./typecheck.js";
import type { EngineOperationOptions, StackRequest } from "./types.js";

/** First and longest pause between attempts while another update holds the stack's lock. */
const LOCK_WAIT_FIRST_MS = 1000;
const LOCK_WAIT_MAX_MS = 10_000;
/** How often a wait that goes on is reported again. */
const LOCK_WAIT_REPORT_MS = 60_000;

/** How often a checkpoint read torn by another process's write is tried again, and the first pause. */
const TORN_READ_ATTEMPTS = 3;
const TORN_READ_PAUSE_MS = 250;

/**
 * Whether the engine failed to read the stack's checkpoint because another
 * process was writing it at that moment. Pulumi's file backend takes no lock
 * for a preview or a refresh, and it rewrites the checkpoint file in place, so
 * a reader can see it empty or cut short ("failed to load checkpoint: EOF",
 * "unexpected end of JSON input"). The next read finds the whole file.
 */
export function isTornCheckpointRead(error: unknown): boolean {
  const text = String(
    (error as { stderr?: unknown } | undefined)?.stderr ?? (error as Error | undefined)?.message ?? "",
  );
  return /failed to load checkpoint:?[^\n]*(EOF|unexpected end of JSON input)/i.test(text);
}

/** Whether the engine refused to start because another update holds the stack's lock. */
function isLockedByAnotherUpdate(error: unknown): boolean {
  const automation = loadedAutomation();
  if (automation && error instanceof automation.ConcurrentUpdateError) return true;
  const stderr = String((error as { stderr?: unknown } | undefined)?.stderr ?? "");
  return /the stack is currently locked by|Another update is currently in progress/.test(stderr);
}

/**
 * Runs an engine operation; while another update holds the stack's lock (a
 * person's `pulumi up`, another reconciler with its own store), waits with
 * backoff (1 s doubling to 10 s, with jitter) and tries again, until the signal
 * aborts. A lock left by a process of this host that is gone is removed
 * (`clearDeadLocks`) and the operation tried again at once. The wait is
 * reported as an `info` diagnostic, once and then every
 * minute it goes on. `beforeRetry` runs before each new attempt (it may throw
 * to give up: the state the operation was meant for moved meanwhile).
 * A checkpoint read torn by another process's write is tried again up to
 * {@link TORN_READ_ATTEMPTS} times after a short pause.
 */
export async function waitWhileLocked<T>(
  request: StackRequest,
  options: EngineOperationOptions,
  operation: () => Promise<T>,
  collector?: StepCollector,
  clearDeadLocks?: () => Promise<string[]>,
  beforeRetry?: () => Promise<void>,
): Promise<T> {
  const { signal, onProgress } = options;
  let delay = LOCK_WAIT_FIRST_MS;
  let waitingSince: number | undefined;
  let reportedAt = 0;
  let tornReads = 0;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!signal?.aborted && isTornCheckpointRead(error) && tornReads < TORN_READ_ATTEMPTS) {
        tornReads++;
        onProgress?.({
          kind: "diagnostic",
          severity: "info",
          message: `stack ${request.stack}'s state was being written by another process; reading it again`,
        });
        await sleep(TORN_READ_PAUSE_MS * tornReads, signal);
        collector?.reset();
        await beforeRetry?.();
        continue;
      }
      if (signal?.aborted || !isLockedByAnotherUpdate(error)) throw error;
      // A lock whose owner died is nobody's: clear it and try again at once.
      const cleared = (await clearDeadLocks?.()) ?? [];
      if (cleared.length > 0) {
        for (const message of cleared) onProgress?.({ kind: "diagnostic", severity: "info", message });
        collector?.reset();
        await beforeRetry?.();
        continue;
      }
      const now = Date.now();
      waitingSince ??= now;
      if (reportedAt === 0 || now - reportedAt >= LOCK_WAIT_REPORT_MS) {
        reportedAt = now;
        const waited = Math.round((now - waitingSince) / 1000);
        onProgress?.({
          kind: "diagnostic",
          severity: "info",
          message:
            waited === 0
              ? `stack ${request.stack} is locked by another update; waiting`
              : `stack ${request.stack} is still locked by another update after ${waited}s; waiting`,
        });
      }
      await sleep(delay * (0.5 + Math.random() / 2), signal);
      delay = Math.min(LOCK_WAIT_MAX_MS, delay * 2);
      collector?.reset();
      await beforeRetry?.();
    }
  }
}

/** Maps engine failures to the reconciler's error policy (exported for its unit test). */
export async function guard<T>(
  signal: AbortSignal | undefined,
  operation: () => Promise<T>,
  collector?: StepCollector,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    // Not the engine's failure: the run plans again.
    if (error instanceof PlanDivergedError) throw error;
    if (signal?.aborted) {
      throw new CancelledError(`cancelled: ${String(signal.reason ?? "aborted")}`, { cause: error });
    }
    // Only the engine's own "locked by another update" is retried: a program
    // error whose text merely says "conflict" would fail again the same way.
    if (isLockedByAnotherUpdate(error)) {
      throw new RetryableError("the stack is locked by another update; will retry", 5000, { cause: error });
    }
    const diagnostics = collector?.errors.join("\n").trim();
    const missing = missingSetup(`${engineText(error)}\n${diagnostics ?? ""}`);
    if (missing) throw new SetupError(missing, SETUP_RETRY_MS, { cause: error });
    const message = diagnostics ? truncate(diagnostics) : engineMessage(error);
    // The program ran; a provider call on a resource failed. Retried with
    // backoff, as a timeout or an API error may pass; the program's own
    // errors stall until a new revision.
    if (collector?.resourceFailed) throw new RetryableError(message, 0, { cause: error });
    const hint = compilerHint(message);
    throw new StalledError("ProgramFailed", hint ? `${message}\n${hint}` : message, { cause: error });
  }
}

/** The earliest retry after a setup failure: fixing a setup takes a person a while. */
const SETUP_RETRY_MS = 30_000;

/**
 * What a failure says is missing from the engine's setup, as a message that
 * says how to provide it; `undefined` for any other failure. A plugin the
 * engine could not find (or could not download: downloads are off, or there
 * is no network) and a tool not on the engine's PATH are setup, not program,
 * errors.
 */
export function missingSetup(text: string): string | undefined {
  const plugin =
    /no (\w+) plugin '(pulumi-\w+-[\w.-]+)' found/.exec(text) ??
    /download and install (\w+) plugin '(pulumi-\w+-[\w.-]+)'/.exec(text) ??
    /failed to download plugin: ()([a-z][\w-]*?)(?:-v?\d[\w.+-]*)?: /.exec(text);
  if (plugin) {
    const name = plugin[2] as string;
    const kind = plugin[1] || "resource";
    const full = name.startsWith("pulumi-") ? name : `pulumi-${kind}-${name}`;
    const how =
      full === "pulumi-resource-pulumi-nodejs"
        ? "it runs dynamic providers and ships with the Pulumi CLI's Node.js support (next to `pulumi-language-nodejs`): use a complete Pulumi CLI, or put the plugin on the engine's PATH"
        : `put \`${full}\` on the engine's PATH or install it into PULUMI_HOME (\`pulumi plugin install ${kind} ${full.replace(/^pulumi-\w+-/, "")}\`)`;
    return `the Pulumi engine has no ${kind} plugin \`${full}\`: ${how}; the run is retried with backoff`;
  }
  const tool =
    /exec: "([^"]+)": executable file not found in \$PATH/.exec(text) ?? /spawn (\S+) ENOENT/.exec(text);
  if (tool) {
    return `\`${tool[1]}\` is not on the engine's PATH: install it, or start the reconciler with a PATH that holds it; the run is retried with backoff`;
  }
  return undefined;
}

/** All the text an engine failure carries (its stderr and its message). */
function engineText(error: unknown): string {
  const e = error as { stderr?: unknown; message?: unknown } | undefined;
  return `${String(e?.stderr ?? "")}\n${String(e?.message ?? error)}`;
}

/** The lines of an engine failure a person needs, without the CLI's banner noise. */
export function engineMessage(error: unknown): string {
  const text = String((error as { stderr?: string }).stderr || (error as Error).message || error);
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(
      (l) =>
        /error|Error|failed|TypeError|SyntaxError|ReferenceError|Cannot|\bat\b/.test(l) && !/^\s+at /.test(l),
    );
  const picked = (lines.length > 0 ? lines : text.split("\n")).slice(0, 6).join("\n").trim();
  return truncate(picked);
}

function truncate(text: string): string {
  return text.length > 1500 ? `${text.slice(0, 1500)}…` : text;
}

/**
 * Removes the stack's backend locks whose owner process on this host is gone
 * (a CLI killed after a cancel or a timeout, a crashed host): nobody can hold
 * them, and waiting would last until the run times out.
 */
export async function clearDeadLocks(request: StackRequest): Promise<string[]> {
  const actions = clearStaleLocks(request);
  const project = projectName(request);
  if (project && isPostgresBackend(request.backend)) {
    const stackName = request.stack.split("/").at(-1) as string;
    actions.push(...(await clearStalePostgresLocks(request.backend, request.env, project, stackName)));
  }
  return actions;
}
