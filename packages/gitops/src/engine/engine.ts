import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { ConfigMap, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation/index.js";
import { StateMovedError } from "../errors.js";
import { sha256, stableJson } from "../util.js";
import { loadAutomation } from "./automation.js";
import { stackSettingsFile, withDeleteFirst } from "./deleteFirst.js";
import { asRefreshEvent, maskedOutputs, StepCollector } from "./events.js";
import { clearDeadLocks, guard, waitWhileLocked } from "./failures.js";
import { type Deployment, fileBackendDir, readCheckpoint } from "./fileBackend.js";
import { PlanWatch } from "./planWatch.js";
import { guardedPulumiCommand } from "./pulumiCommand.js";

export { EngineProgressRenderer } from "./events.js";

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
  /**
   * For a replace: the order the engine chose. `create-before-delete` (its
   * default) creates the replacement, then deletes the old object;
   * `delete-before-replace` deletes first (the resource's
   * `deleteBeforeReplace`, or the provider's choice).
   */
  readonly replaceOrder?: "create-before-delete" | "delete-before-replace";
  /**
   * For a replace of an object named by apiVersion, kind, namespace and
   * `metadata.name` (Kubernetes): the old object and its replacement, as far
   * as their inputs and outputs say (values that are secret or unknown are left out).
   */
  readonly objects?: { readonly old: ObjectIdentity; readonly new: ObjectIdentity };
}

/** What names a Kubernetes-style object: a replacement with the same identity is the same object. */
export interface ObjectIdentity {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
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
  /**
   * Paths that held a secret before and after the refresh: the engine masks
   * secret values, so refresh cannot tell whether they changed. A resource
   * refresh found changed may have changed there too, so a step that changes
   * one of them counts as drift (the value itself is never known).
   */
  readonly secretPaths?: readonly string[];
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
  /**
   * For an `up`: the steps its preview showed. The update is stopped (and
   * fails with a {@link PlanDivergedError}) at the first create, update,
   * delete or replace the preview did not show on that resource.
   */
  readonly expect?: readonly PlannedStep[];
  /**
   * For an `up`: the state digest ({@link Engine.stateVersion}) its preview
   * planned against. An `up` that had to wait for another update's lock
   * checks it again before it starts, and throws a {@link StateMovedError}
   * when the state moved.
   */
  readonly fromState?: string;
  /**
   * For a preview or an `up`: resource types (`kubernetes:core/v1:Secret`)
   * whose replacements the engine makes delete-before-replace, whatever the
   * program or provider chose. A person approved deleting those objects first.
   */
  readonly deleteFirst?: readonly string[];
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
  /**
   * Refreshes the stack's recorded state from the live resources and keeps
   * it (`pulumi refresh`), returning the resources whose live state differed.
   * A preview and an `up` after it then both work from that state instead of
   * each refreshing again. Engines without it refresh inside each operation.
   */
  refresh?(request: StackRequest, options?: EngineOperationOptions): Promise<readonly DriftedResource[]>;
  /** Clears what an interrupted run left behind: stale locks, pending operations. Returns what it did. */
  recover(request: StackRequest, options?: EngineOperationOptions): Promise<string[]>;
  /**
   * A digest of the stack's state (resources and pending operations, not
   * timestamps): equal digests mean an approved plan still starts from the
   * state it was made against. Engines without it cannot pin plans to state.
   */
  stateVersion?(request: StackRequest): Promise<string>;
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
          withDeleteFirst(
            stackSettingsFile(request.workDir, request.stack),
            options.deleteFirst,
            (configFile) =>
              stack.preview({
                refresh: options.refresh ?? false,
                onEvent: collector.onEvent,
                signal: options.signal,
                ...(options.savePlan ? { plan: options.savePlan } : {}),
                ...(configFile ? { configFile } : {}),
              }),
          ),
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
    const watch = new PlanWatch(options.expect);
    const signal = options.signal ? AbortSignal.any([options.signal, watch.signal]) : watch.signal;
    const { fromState } = options;
    const recheck = fromState
      ? async () => {
          const current = await this.stateVersion(request);
          if (current !== fromState) throw new StateMovedError(fromState, current);
        }
      : undefined;
    this.invocations++;
    try {
      await this.#withoutSummary(stack, () =>
        this.#guarded(
          request,
          { ...options, signal },
          () =>
            withDeleteFirst(
              stackSettingsFile(request.workDir, request.stack),
              options.deleteFirst,
              (configFile) =>
                stack.up({
                  refresh: options.refresh ?? false,
                  onEvent: (event) => {
                    watch.onEvent(event);
                    collector.onEvent(event);
                  },
                  signal,
                  ...(options.plan ? { plan: options.plan } : {}),
                  ...(configFile ? { configFile } : {}),
                }),
            ),
          collector,
          recheck,
        ),
      );
    } catch (error) {
      throw watch.diverged(error) ?? error;
    }
    const outputs = collector.stackOutputs ?? (await this.#stateOutputs(stack));
    return { counts: collector.counts, outputs };
  }

  async refresh(request: StackRequest, options: EngineOperationOptions = {}): Promise<DriftedResource[]> {
    const stack = await this.#stack(request);
    const collector = new StepCollector(options.onProgress);
    this.invocations++;
    await this.#withoutSummary(stack, () =>
      this.#guarded(
        request,
        options,
        () =>
          stack.refresh({
            onEvent: (event) => collector.onEvent(asRefreshEvent(event)),
            signal: options.signal,
          }),
        collector,
      ),
    );
    return [...collector.drift];
  }

  /**
   * Runs an update or refresh without the reads Stack adds after it: the
   * outputs (`pulumi stack output`, twice) and the last history entry, three
   * more CLI processes, each decrypting the state, about a third of a small
   * update. The engine's events carry the outputs already and the summary is
   * not used.
   */
  async #withoutSummary<T>(stack: Stack, operation: () => Promise<T>): Promise<T> {
    const patched = stack as unknown as { outputs: Stack["outputs"]; info: Stack["info"] };
    const original = { outputs: patched.outputs, info: patched.info };
    patched.outputs = async () => ({});
    patched.info = async () => undefined;
    try {
      return await operation();
    } finally {
      patched.outputs = original.outputs;
      patched.info = original.info;
    }
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
    const actions = await clearDeadLocks(request);
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
    // A `file://` backend's state is read from its file: no CLI process.
    const deployment = readCheckpoint(request) ?? (await this.#exportedDeployment(request));
    // What the resources are, not when they were last touched: a state that
    // was only rewritten hashes the same.
    const resources = (deployment.resources ?? []).map(({ created: _c, modified: _m, ...rest }) => rest);
    return sha256(stableJson({ resources, pending: deployment.pending_operations ?? [] })).slice(0, 16);
  }

  async #exportedDeployment(request: StackRequest): Promise<Deployment> {
    const stack = await this.#stack(request);
    this.invocations++;
    return ((await stack.exportStack()).deployment ?? {}) as Deployment;
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
    const { LocalWorkspace, Stack, StackAlreadyExistsError, StackNotFoundError } = await loadAutomation();
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
    const settings = stackSettingsFile(request.workDir, request.stack);
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
    beforeRetry?: () => Promise<void>,
  ): Promise<T> {
    try {
      return await guard(
        options.signal,
        () =>
          waitWhileLocked(request, options, operation, collector, () => clearDeadLocks(request), beforeRetry),
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
