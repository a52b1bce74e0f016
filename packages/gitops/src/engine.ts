import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ConcurrentUpdateError,
  type ConfigMap,
  type EngineEvent,
  LocalWorkspace,
  type OpType,
  type PulumiCommand,
  type PulumiFn,
  Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
  type StepEventMetadata,
} from "@pulumi/pulumi/automation/index.js";
import { parse as parseYaml } from "yaml";
import { changedPaths } from "./driftPaths.js";
import { CancelledError, RetryableError, StalledError } from "./errors.js";
import { clearStalePostgresLocks, isPostgresBackend } from "./postgresBackendLocks.js";
import { isAlive } from "./process.js";
import { guardedPulumiCommand } from "./pulumiCommand.js";
import { compilerHint } from "./typecheck.js";
import { sha256, sleep, stableJson } from "./util.js";

/** Counts of planned or applied changes, not counting the stack itself and providers. */
export interface ChangeCounts {
  create: number;
  update: number;
  delete: number;
  replace: number;
  same: number;
}

/** One resource the plan touches. */
export interface PlannedStep {
  readonly op: "create" | "update" | "delete" | "replace";
  readonly urn: string;
  readonly type: string;
  /** Changed input keys, when the engine reports them. */
  readonly keys?: readonly string[];
  /**
   * The property-level changes of an update or replace, as the engine reports
   * them (its detailed diff, else the changed keys), values with secrets masked.
   */
  readonly diffs?: readonly PropertyChange[];
}

/** One changed property of a resource a plan updates or replaces. */
export interface PropertyChange {
  /** The property path as the engine names it (`content`, `tags.team`, `ports[0]`). */
  readonly path: string;
  readonly kind: "add" | "delete" | "update";
  /** The change forces the resource to be replaced. */
  readonly replace: boolean;
  /** The value before (absent for an add); `[secret]` for secrets, `[unknown]` until applied. */
  readonly old?: unknown;
  /** The value after (absent for a delete). */
  readonly new?: unknown;
}

/** A resource whose live state refresh found different from the recorded state. */
export interface DriftedResource {
  readonly urn: string;
  readonly type: string;
  /**
   * The output paths refresh found changed (`spec.replicas`); absent when the
   * resource is gone or changed in too many places to list.
   */
  readonly paths?: readonly string[];
}

/** What a preview found. */
export interface Plan {
  readonly counts: ChangeCounts;
  readonly steps: readonly PlannedStep[];
  /** Whether anything would change. */
  readonly changes: boolean;
  /**
   * With `refresh`: the resources whose live state refresh found different
   * from the recorded state. Absent when the engine did not refresh. Drift is
   * what of this the plan would undo (see `isDrift`).
   */
  readonly drift?: readonly DriftedResource[];
}

/** What an `up` did. */
export interface ApplyResult {
  readonly counts: ChangeCounts;
  readonly outputs: Readonly<Record<string, unknown>>;
}

/** Progress reported while the engine works. */
export type EngineProgress =
  | {
      readonly kind: "resource";
      readonly op: string;
      readonly urn: string;
      readonly type: string;
      readonly done: boolean;
      /** The step is only planned (a preview): nothing was done to the resource. */
      readonly preview?: boolean;
    }
  | {
      readonly kind: "diagnostic";
      readonly severity: string;
      readonly message: string;
      readonly urn?: string;
    };

/** Everything the engine needs to operate on one stack. */
export interface StackRequest {
  /** Directory holding Pulumi.yaml (or a scratch directory for an inline program). */
  readonly workDir: string;
  readonly stack: string;
  readonly program?: PulumiFn;
  readonly projectName?: string;
  readonly backend: string;
  readonly secretsProvider: string;
  /** Environment for the CLI and the program, including the passphrase. */
  readonly env: Readonly<Record<string, string>>;
  readonly config: Readonly<Record<string, string>>;
  readonly secretConfig: Readonly<Record<string, string>>;
}

/** Per-operation options. */
export interface EngineOperationOptions {
  readonly refresh?: boolean;
  /** For a preview: remove the stack afterwards if the preview had to create it (plan-on-PR). */
  readonly ephemeral?: boolean;
  /** For a preview: write the Pulumi update plan to this file (`pulumi preview --save-plan`). */
  readonly savePlan?: string;
  /**
   * For an `up`: apply under this saved plan (`pulumi up --plan`); the engine
   * refuses any operation the plan does not contain.
   */
  readonly plan?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: EngineProgress) => void;
}

/**
 * The Pulumi engine as the reconciler uses it. {@link PulumiEngine} drives the
 * real CLI through the Automation API; tests may pass a fake.
 */
export interface Engine {
  preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan>;
  up(request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult>;
  destroy(request: StackRequest, options?: EngineOperationOptions): Promise<ApplyResult>;
  /** Clears what an interrupted run left behind: stale locks, pending operations. Returns what it did. */
  recover(request: StackRequest, options?: EngineOperationOptions): Promise<string[]>;
  /**
   * A digest of the stack's state (resources and pending operations, not
   * timestamps): equal digests mean an approved plan still starts from the
   * state it was made against. Engines without it cannot pin plans to state.
   */
  stateVersion?(request: StackRequest): Promise<string>;
}

const IGNORED_TYPES = /^pulumi:(pulumi:Stack|providers:)/;

function emptyCounts(): ChangeCounts {
  return { create: 0, update: 0, delete: 0, replace: 0, same: 0 };
}

/** Folds engine step events into counts and steps; replacement halves are counted once. */
class StepCollector {
  readonly counts = emptyCounts();
  readonly steps: PlannedStep[] = [];
  /** Error diagnostics, which say why a failed operation failed better than its exit status. */
  readonly errors: string[] = [];
  /** Resources refresh found changed or gone (drift). */
  readonly drift: DriftedResource[] = [];
  /** The stack's outputs as the engine reported them (secrets masked), once it did. */
  stackOutputs: Record<string, unknown> | undefined;
  readonly #onProgress: ((event: EngineProgress) => void) | undefined;
  readonly #preview: boolean;

  constructor(onProgress?: (event: EngineProgress) => void, preview = false) {
    this.#onProgress = onProgress;
    this.#preview = preview;
  }

  /** Forgets what an attempt collected, before the operation is tried again. */
  reset(): void {
    Object.assign(this.counts, emptyCounts());
    this.steps.length = 0;
    this.errors.length = 0;
    this.drift.length = 0;
    this.stackOutputs = undefined;
  }

  readonly onEvent = (event: EngineEvent): void => {
    const pre = event.resourcePreEvent?.metadata;
    const out = event.resOutputsEvent?.metadata;
    if (out && out.type === "pulumi:pulumi:Stack" && out.new)
      this.stackOutputs = maskedOutputs(out.new.outputs);
    const planned = this.#preview ? { preview: true } : {};
    if (pre)
      this.#onProgress?.({
        kind: "resource",
        op: pre.op,
        urn: pre.urn,
        type: pre.type,
        done: false,
        ...planned,
      });
    if (out)
      this.#onProgress?.({
        kind: "resource",
        op: out.op,
        urn: out.urn,
        type: out.type,
        done: true,
        ...planned,
      });
    const diag = event.diagnosticEvent;
    // Debug diagnostics are the language host's RPC trace: they carry every
    // resource's inputs, a dynamic provider's serialized source among them (the
    // SDK's type leaves `debug` out; the engine sends it).
    if (diag && !diag.ephemeral && (diag.severity as string) !== "debug") {
      this.#onProgress?.({
        kind: "diagnostic",
        severity: diag.severity,
        message: diag.message,
        urn: diag.urn,
      });
      if (diag.severity === "error") this.errors.push(diag.message.trim());
    }
    if (out?.op === "refresh" && !IGNORED_TYPES.test(out.type) && refreshChanged(out)) {
      const paths = out.new ? changedPaths(out.old?.outputs, out.new.outputs) : undefined;
      this.drift.push({ urn: out.urn, type: out.type, ...(paths?.length ? { paths } : {}) });
    }
    if (!pre || IGNORED_TYPES.test(pre.type)) return;
    const op = countedOp(pre.op);
    if (!op) return;
    this.counts[op]++;
    if (op === "same") return;
    const diffs = op === "update" || op === "replace" ? propertyChanges(pre) : [];
    this.steps.push({
      op,
      urn: pre.urn,
      type: pre.type,
      keys: pre.keys,
      ...(diffs.length > 0 ? { diffs } : {}),
    });
  };
}

/** Pulumi's marker of a value not known until the resource is applied. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Longest JSON text of a value shown in a diff; longer ones are cut. */
const MAX_VALUE_CHARS = 300;

/** A value fit for a report: secrets and unknowns named, long values cut. */
function shownValue(value: unknown): unknown {
  if (containsSecret(value)) return "[secret]";
  if (value === UNKNOWN) return "[unknown]";
  const text = JSON.stringify(value);
  if (text !== undefined && text.length > MAX_VALUE_CHARS) return `${text.slice(0, MAX_VALUE_CHARS)}…`;
  return value;
}

/** The value at an engine property path (`a.b[0]`, `["a.b"].c`) in a resource's inputs. */
function valueAt(inputs: Record<string, unknown> | undefined, path: string): unknown {
  let value: unknown = inputs;
  for (const match of path.matchAll(/\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.[\]]+)/g)) {
    if (value === null || typeof value !== "object") return undefined;
    const key = match[1] ?? match[2] ?? match[3] ?? "";
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Top-level keys whose values differ, for a provider that reports neither a detailed diff nor keys. */
function changedKeys(before: Record<string, unknown> = {}, after: Record<string, unknown> = {}): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (key) => stableJson(before[key]) !== stableJson(after[key]),
  );
}

/**
 * The changed properties of an update or replace: the engine's detailed diff
 * when the provider gave one, else its list of changed keys (or, without one,
 * the top-level inputs that differ) compared between the old and new inputs. Internal keys (`__provider` of dynamic resources) are left out.
 */
function propertyChanges(step: StepEventMetadata): PropertyChange[] {
  let before = step.old?.inputs;
  const after = step.new?.inputs;
  if (!step.detailedDiff && !step.diffs?.length && changedKeys(before, after).length === 0) {
    // Drift: refresh read other live values into the outputs while the inputs
    // stayed; the plan puts back the inputs, so compare with what is live.
    const live = step.old?.outputs ?? {};
    before = {
      ...before,
      ...Object.fromEntries(
        Object.keys(after ?? {})
          .filter((k) => k in live)
          .map((k) => [k, live[k]]),
      ),
    };
  }
  const replaced = new Set(step.keys ?? []);
  const entries: [string, PropertyChange["kind"], boolean][] = step.detailedDiff
    ? Object.entries(step.detailedDiff).map(([path, diff]) => {
        // The event log names it `diffKind`; older engines said `kind`.
        const kind = String(diff.diffKind ?? (diff as { kind?: string }).kind ?? "update");
        return [path, kind.replace("-replace", "") as PropertyChange["kind"], kind.endsWith("-replace")];
      })
    : (step.diffs?.length ? step.diffs : changedKeys(before, after)).map((key) => [
        key,
        before && !(key in before) ? "add" : after && !(key in after) ? "delete" : "update",
        replaced.has(key),
      ]);
  return entries
    .filter(([path]) => !path.startsWith("__"))
    .map(([path, kind, replace]) => {
      const old = valueAt(before, path);
      const next = valueAt(after, path);
      return {
        path,
        kind,
        replace,
        ...(kind !== "add" && old !== undefined ? { old: shownValue(old) } : {}),
        ...(kind !== "delete" && next !== undefined ? { new: shownValue(next) } : {}),
      };
    });
}

/**
 * Whether a refresh step read live state different from the recorded state
 * (or found the resource gone): changed outputs, as `pulumi refresh` itself
 * counts an update. Refresh steps carry no `diffs` today; they are used when present.
 */
function refreshChanged(step: StepEventMetadata): boolean {
  if (!step.new) return true;
  if (step.diffs && step.diffs.length > 0) return true;
  return stableJson(step.old?.outputs ?? {}) !== stableJson(step.new.outputs ?? {});
}

/**
 * Renders engine progress as run log lines. One renderer serves all of a
 * run's operations: a warning the engine repeats for each (`using
 * pulumi-language-nodejs from $PATH`, once per plugin per operation) is said
 * once. A preview's steps read as plans (`plan delete …`), never as done work;
 * unchanged resources are not listed.
 */
export class EngineProgressRenderer {
  readonly #warned = new Set<string>();

  /** The line for an event, or `undefined` when it adds nothing to the log. */
  render(event: EngineProgress): string | undefined {
    if (event.kind === "diagnostic") {
      const message = event.message.trim();
      if (event.severity === "debug" || message === "") return undefined;
      if (event.severity === "warning") {
        if (this.#warned.has(message)) return undefined;
        this.#warned.add(message);
      }
      return `${event.severity}: ${message}`;
    }
    if (event.op === "same") return undefined;
    if (event.op === "refresh") return event.done ? `refreshed ${event.urn}` : undefined;
    if (event.preview) return event.done ? undefined : `plan ${event.op} ${event.urn}`;
    return `${event.done ? "done" : "start"} ${event.op} ${event.urn}`;
  }
}

function countedOp(op: OpType): keyof ChangeCounts | undefined {
  switch (op) {
    case "same":
    case "create":
    case "update":
    case "delete":
    case "replace":
      return op;
    case "create-replacement":
    case "delete-replaced":
    case "discard-replaced":
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The real engine: the Pulumi CLI on PATH, driven through the Automation API.
 * An operation that finds the stack locked by another update waits for it
 * (until its signal aborts) instead of failing. The CLI is started so that no
 * process of a run outlives it, nor this process, and the host's signal
 * handling stays its own (see pulumiCommand.ts).
 */
export class PulumiEngine implements Engine {
  /** Engine operations started; a no-op reconcile must leave this unchanged. */
  invocations = 0;
  // One stack handle per request: a run's preview and up share the selected
  // stack and its config instead of paying for them twice.
  readonly #stacks = new WeakMap<StackRequest, Promise<Stack>>();
  #command: Promise<PulumiCommand> | undefined;
  // Stacks this engine created, so a throwaway preview can remove what it made.
  readonly #created = new WeakSet<Stack>();
  // Stacks known to exist, with a hash of the config last set and of the file it went to.
  readonly #known = new Map<string, { config: string; file: string | undefined }>();

  async preview(request: StackRequest, options: EngineOperationOptions = {}): Promise<Plan> {
    const stack = await this.#stack(request);
    const collector = new StepCollector(options.onProgress, true);
    this.invocations++;
    try {
      await this.#guarded(
        request,
        options,
        () =>
          stack.preview({
            refresh: options.refresh ?? false,
            onEvent: collector.onEvent,
            signal: options.signal,
            ...(options.savePlan ? { plan: options.savePlan } : {}),
          }),
        collector,
      );
    } finally {
      if (options.ephemeral && this.#created.has(stack)) {
        this.#stacks.delete(request);
        this.#forget(request);
        await stack.workspace.removeStack(stack.name).catch(() => undefined);
      }
    }
    const { counts, steps } = collector;
    return {
      counts,
      steps,
      changes: counts.create + counts.update + counts.delete + counts.replace > 0,
      ...(options.refresh ? { drift: [...collector.drift] } : {}),
    };
  }

  async up(request: StackRequest, options: EngineOperationOptions = {}): Promise<ApplyResult> {
    const stack = await this.#stack(request);
    const collector = new StepCollector(options.onProgress);
    this.invocations++;
    // After an update, Stack.up reads the outputs (`pulumi stack output`, twice)
    // and the last history entry: three more CLI processes, each decrypting the
    // state, about a third of a small update. The engine's events carry the
    // outputs already and the summary is not used, so both are skipped here.
    const patched = stack as unknown as { outputs: Stack["outputs"]; info: Stack["info"] };
    const original = { outputs: patched.outputs, info: patched.info };
    patched.outputs = async () => ({});
    patched.info = async () => undefined;
    try {
      await this.#guarded(
        request,
        options,
        () =>
          stack.up({
            refresh: options.refresh ?? false,
            onEvent: collector.onEvent,
            signal: options.signal,
            ...(options.plan ? { plan: options.plan } : {}),
          }),
        collector,
      );
    } finally {
      patched.outputs = original.outputs;
      patched.info = original.info;
    }
    const outputs = collector.stackOutputs ?? (await this.#stateOutputs(stack));
    return { counts: collector.counts, outputs };
  }

  async destroy(request: StackRequest, options: EngineOperationOptions = {}): Promise<ApplyResult> {
    const stack = await this.#stack(request);
    const collector = new StepCollector(options.onProgress);
    this.invocations++;
    await this.#guarded(
      request,
      options,
      () =>
        stack.destroy({
          refresh: options.refresh ?? false,
          onEvent: collector.onEvent,
          signal: options.signal,
        }),
      collector,
    );
    await stack.workspace.removeStack(stack.name);
    this.#forget(request);
    return { counts: collector.counts, outputs: {} };
  }

  async recover(request: StackRequest, options: EngineOperationOptions = {}): Promise<string[]> {
    const actions = clearStaleLocks(request);
    const project = projectName(request);
    if (project && isPostgresBackend(request.backend)) {
      const stackName = request.stack.split("/").at(-1) as string;
      actions.push(...(await clearStalePostgresLocks(request.backend, request.env, project, stackName)));
    }
    const stack = await this.#stack(request);
    const state = await stack.exportStack();
    const pending =
      (state.deployment as { pending_operations?: unknown[] } | undefined)?.pending_operations ?? [];
    if (pending.length > 0) {
      this.invocations++;
      // Pending operations are the engine's record of calls it made without
      // seeing the result. Refresh settles updates and deletes against the real
      // resources; creates that never reported back are dropped so the next
      // `up` creates them again.
      await guard(options.signal, () =>
        waitWhileLocked(request, options, () =>
          stack.refresh({ clearPendingCreates: true, signal: options.signal }),
        ),
      );
      actions.push(`settled ${pending.length} pending operation(s) from an interrupted run`);
    }
    return actions;
  }

  async stateVersion(request: StackRequest): Promise<string> {
    const stack = await this.#stack(request);
    this.invocations++;
    const state = await stack.exportStack();
    const deployment = (state.deployment ?? {}) as {
      resources?: Record<string, unknown>[];
      pending_operations?: unknown[];
    };
    // What the resources are, not when they were last touched: a state that
    // was only rewritten hashes the same.
    const resources = (deployment.resources ?? []).map(({ created: _c, modified: _m, ...rest }) => rest);
    return sha256(stableJson({ resources, pending: deployment.pending_operations ?? [] })).slice(0, 16);
  }

  /**
   * The root resource's outputs from the exported state, where every secret,
   * nested ones included, is still marked (`stack output` only flags secrets
   * at the top level and would reveal nested ones).
   */
  async #stateOutputs(stack: Stack): Promise<Record<string, unknown>> {
    const state = await stack.exportStack();
    const resources = (
      state.deployment as { resources?: { type: string; outputs?: Record<string, unknown> }[] }
    )?.resources;
    return maskedOutputs(resources?.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs);
  }

  #stack(request: StackRequest): Promise<Stack> {
    let stack = this.#stacks.get(request);
    if (!stack) {
      stack = this.#selectStack(request);
      this.#stacks.set(request, stack);
      stack.catch(() => this.#stacks.delete(request));
    }
    return stack;
  }

  async #selectStack(request: StackRequest): Promise<Stack> {
    // The CLI's version is checked once per engine, not once per workspace.
    this.#command ??= guardedPulumiCommand();
    const pulumiCommand = await this.#command;
    const backendDir = fileBackendDir(request.backend);
    if (backendDir) mkdirSync(backendDir, { recursive: true });
    mkdirSync(request.workDir, { recursive: true });
    const envVars = { PULUMI_BACKEND_URL: request.backend, PULUMI_SKIP_UPDATE_CHECK: "true", ...request.env };
    const workspaceOptions = {
      workDir: request.workDir,
      envVars,
      secretsProvider: request.secretsProvider,
      pulumiCommand,
    };
    const workspace = await LocalWorkspace.create(
      request.program
        ? {
            ...workspaceOptions,
            program: request.program,
            projectSettings: {
              name: request.projectName ?? "inline",
              runtime: "nodejs",
              backend: { url: request.backend },
            },
          }
        : workspaceOptions,
    );
    const key = stackKey(request);
    const known = this.#known.get(key);
    if (known) {
      // Every command names its stack, so a stack known to exist needs no
      // `pulumi stack select` (one CLI process less per run).
      (workspace as { selectStack: (name: string) => Promise<void> }).selectStack = async () => undefined;
    }
    let stack: Stack;
    try {
      stack = await Stack.select(request.stack, workspace);
    } catch (error) {
      if (!(error instanceof StackNotFoundError)) throw error;
      try {
        stack = await Stack.create(request.stack, workspace);
        this.#created.add(stack);
      } catch (createError) {
        // Another process created it between our select and create.
        if (!(createError instanceof StackAlreadyExistsError)) throw createError;
        stack = await Stack.select(request.stack, workspace);
      }
    }
    const config: ConfigMap = {};
    for (const [name, value] of Object.entries(request.config)) config[name] = { value };
    for (const [name, value] of Object.entries(request.secretConfig)) config[name] = { value, secret: true };
    const configHash = sha256(JSON.stringify(config));
    const settings = join(request.workDir, `Pulumi.${request.stack.split("/").at(-1)}.yaml`);
    // Config is set again only when it changed or its file is not as we left it
    // (a checkout resets or removes it).
    if (
      Object.keys(config).length > 0 &&
      (known?.config !== configHash || known.file !== fileHash(settings))
    ) {
      await stack.setAllConfig(config);
    }
    this.#known.set(key, { config: configHash, file: fileHash(settings) });
    return stack;
  }

  async #guarded<T>(
    request: StackRequest,
    options: EngineOperationOptions,
    operation: () => Promise<T>,
    collector: StepCollector,
  ): Promise<T> {
    try {
      return await guard(
        options.signal,
        () => waitWhileLocked(request, options, operation, collector),
        collector,
      );
    } catch (error) {
      this.#forget(request);
      throw error;
    }
  }

  /** Forgets what it knew of a stack after a failure, so the next run selects and configures it afresh. */
  #forget(request: StackRequest): void {
    this.#known.delete(stackKey(request));
  }
}

function stackKey(request: StackRequest): string {
  return `${request.backend}\0${request.workDir}\0${request.stack}`;
}

function fileHash(path: string): string | undefined {
  return existsSync(path) ? sha256(readFileSync(path, "utf8")) : undefined;
}

/** Pulumi's marker of a secret value in engine events and serialized state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Stack outputs (from an engine event or the state), each value holding a secret as `[secret]`. */
function maskedOutputs(outputs: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(outputs ?? {}).map(([key, value]) => [key, containsSecret(value) ? "[secret]" : value]),
  );
}

function containsSecret(value: unknown): boolean {
  if (value === "[secret]") return true;
  if (value === null || typeof value !== "object") return false;
  if (SECRET_SIG in value) return true;
  return Object.values(value).some(containsSecret);
}

function fileBackendDir(backend: string): string | undefined {
  return backend.startsWith("file://")
    ? fileURLToPath(backend.replace(/^file:\/\/(?!\/)/, "file:///"))
    : undefined;
}

/** First and longest pause between attempts while another update holds the stack's lock. */
const LOCK_WAIT_FIRST_MS = 1000;
const LOCK_WAIT_MAX_MS = 10_000;
/** How often a wait that goes on is reported again. */
const LOCK_WAIT_REPORT_MS = 60_000;

/** Whether the engine refused to start because another update holds the stack's lock. */
function isLockedByAnotherUpdate(error: unknown): boolean {
  if (error instanceof ConcurrentUpdateError) return true;
  const stderr = String((error as { stderr?: unknown } | undefined)?.stderr ?? "");
  return /the stack is currently locked by|Another update is currently in progress/.test(stderr);
}

/**
 * Runs an engine operation; while another update holds the stack's lock (a
 * person's `pulumi up`, another reconciler with its own store), waits with
 * backoff (1 s doubling to 10 s, with jitter) and tries again, until the signal
 * aborts. The wait is reported as an `info` diagnostic, once and then every
 * minute it goes on.
 */
async function waitWhileLocked<T>(
  request: StackRequest,
  options: EngineOperationOptions,
  operation: () => Promise<T>,
  collector?: StepCollector,
): Promise<T> {
  const { signal, onProgress } = options;
  let delay = LOCK_WAIT_FIRST_MS;
  let waitingSince: number | undefined;
  let reportedAt = 0;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (signal?.aborted || !isLockedByAnotherUpdate(error)) throw error;
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
    if (signal?.aborted) {
      throw new CancelledError(`cancelled: ${String(signal.reason ?? "aborted")}`, { cause: error });
    }
    // Only the engine's own "locked by another update" is retried: a program
    // error whose text merely says "conflict" would fail again the same way.
    if (isLockedByAnotherUpdate(error)) {
      throw new RetryableError("the stack is locked by another update; will retry", 5000, { cause: error });
    }
    const diagnostics = collector?.errors.join("\n").trim();
    const message = diagnostics ? truncate(diagnostics) : engineMessage(error);
    const hint = compilerHint(message);
    throw new StalledError("ProgramFailed", hint ? `${message}\n${hint}` : message, { cause: error });
  }
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

function projectName(request: StackRequest): string | undefined {
  if (request.program) return request.projectName ?? "inline";
  for (const file of ["Pulumi.yaml", "Pulumi.yml"]) {
    const path = join(request.workDir, file);
    if (existsSync(path)) return (parseYaml(readFileSync(path, "utf8")) as { name?: string } | null)?.name;
  }
  return undefined;
}

/**
 * Removes lock files of a `file://` backend whose owner process is gone.
 * A lock written on this host by a pid that no longer runs cannot be held
 * by anyone; a lock from another host or a live process is left alone.
 */
function clearStaleLocks(request: StackRequest): string[] {
  const backendDir = fileBackendDir(request.backend);
  const project = projectName(request);
  if (!backendDir || !project) return [];
  const stackName = request.stack.split("/").at(-1) as string;
  const root = join(backendDir, ".pulumi", "locks");
  const actions: string[] = [];
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        visit(path);
        continue;
      }
      if (!path.endsWith(".json") || !dir.endsWith(join(project, stackName))) continue;
      const lock = JSON.parse(readFileSync(path, "utf8")) as { pid?: number; hostname?: string };
      if (lock.hostname === hostname() && typeof lock.pid === "number" && !isAlive(lock.pid)) {
        rmSync(path);
        actions.push(`removed a stale lock on ${project}/${stackName} left by process ${lock.pid}`);
      }
    }
  };
  visit(root);
  return actions;
}
