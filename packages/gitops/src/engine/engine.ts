import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { ConfigMap, PulumiCommand, Stack } from "@pulumi/pulumi/automation/index.js";
import { SpecError, StateMovedError } from "../errors.js";
import { sha256, stableJson } from "../util.js";
import { loadAutomation } from "./automation.js";
import { stackSettingsFile, withDeleteFirst } from "./deleteFirst.js";
import { asRefreshEvent, maskedOutputs, StepCollector } from "./events.js";
import { clearDeadLocks, guard, waitWhileLocked } from "./failures.js";
import { type Deployment, fileBackendDir, projectName, readCheckpoint } from "./fileBackend.js";
import { PlanWatch } from "./planWatch.js";
import { isPostgresBackend, readPostgresCheckpoint } from "./postgresBackend.js";
import { CANCEL_KILL_AFTER_MS, guardedPulumiCommand } from "./pulumiCommand.js";
import type {
  ApplyResult,
  DriftedResource,
  Engine,
  EngineOperationOptions,
  Plan,
  StackRequest,
  StackState,
  StateResource,
} from "./types.js";

export { EngineProgressRenderer } from "./events.js";

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
  readonly #cancelGraceMs: number;

  /**
   * @param options.cancelGraceMs - how long a cancelled CLI gets to stop cleanly after SIGINT
   *   before it and its plugins are SIGKILLed (default {@link CANCEL_KILL_AFTER_MS})
   * @throws SpecError when `cancelGraceMs` is not a whole number of milliseconds ≥ 0
   */
  constructor(options: { readonly cancelGraceMs?: number } = {}) {
    const grace = options.cancelGraceMs ?? CANCEL_KILL_AFTER_MS;
    if (!Number.isInteger(grace) || grace < 0) {
      throw new SpecError("PulumiEngine options", [
        {
          path: "cancelGraceMs",
          message: `must be a whole number of milliseconds of at least 0, got ${grace}`,
        },
      ]);
    }
    this.#cancelGraceMs = grace;
  }
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
                ...(options.targets ? { target: [...options.targets] } : {}),
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
      ...(options.refresh ? { drift: [...collector.drift], live: new Map(collector.live) } : {}),
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
                  ...(options.targets ? { target: [...options.targets] } : {}),
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

  async previewRefresh(request: StackRequest, options: EngineOperationOptions = {}): Promise<Plan> {
    const stack = await this.#stack(request);
    const collector = StepCollector.refreshPreview(options.onProgress);
    this.invocations++;
    await this.#guarded(
      request,
      options,
      () =>
        stack.previewRefresh({
          onEvent: collector.onEvent,
          signal: options.signal,
          // The program is what the state says it is: a check that runs it is a preview.
          runProgram: false,
          ...(options.targets ? { target: [...options.targets] } : {}),
        }),
      collector,
    );
    const { counts, steps } = collector;
    return {
      counts,
      steps,
      changes: steps.length > 0,
      drift: [...collector.drift],
      live: new Map(collector.live),
    };
  }

  async refresh(request: StackRequest, options: EngineOperationOptions = {}): Promise<DriftedResource[]> {
    const stack = await this.#stack(request);
    // A state with nothing in it (a new target's first run) has nothing to read: no engine process.
    if (emptyState(await this.#storedDeployment(request))) return [];
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
            ...(options.targets ? { target: [...options.targets] } : {}),
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
    // Removed: the next operation on this request selects (or creates) the stack afresh.
    this.#stacks.delete(request);
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
    return stateDigest(await this.#deployment(request));
  }

  async resources(request: StackRequest): Promise<readonly StateResource[]> {
    return stateResources(await this.#deployment(request));
  }

  async state(request: StackRequest): Promise<StackState> {
    const deployment = await this.#deployment(request);
    const secrets = deployment.secrets_providers;
    return {
      version: stateDigest(deployment),
      resources: stateResources(deployment),
      ...(secrets && typeof secrets === "object" ? { secrets } : {}),
    };
  }

  /**
   * The state's deployment without a CLI process where the backend allows: a
   * `file://` backend's from its file, a `postgres://` one's from its state
   * table; any other's (or one that cannot be read so) through `stack export`.
   */
  async #deployment(request: StackRequest): Promise<Deployment> {
    return (await this.#storedDeployment(request)) ?? (await this.#exportedDeployment(request));
  }

  /** The state's deployment as the backend stores it (see {@link #deployment}); undefined where it takes a CLI process. */
  async #storedDeployment(request: StackRequest): Promise<Deployment | undefined> {
    const file = readCheckpoint(request);
    if (file) return file;
    const project = isPostgresBackend(request.backend) ? projectName(request) : undefined;
    return project
      ? await readPostgresCheckpoint(
          request.backend,
          request.env,
          project,
          request.stack.split("/").at(-1) as string,
        )
      : undefined;
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
    this.#command ??= guardedPulumiCommand("pulumi", this.#cancelGraceMs);
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

/** Whether a deployment holds no resource and no pending operation (an unknown one is not empty). */
function emptyState(deployment: Deployment | undefined): boolean {
  return (
    deployment !== undefined &&
    (deployment.resources ?? []).length === 0 &&
    (deployment.pending_operations ?? []).length === 0
  );
}

/**
 * A digest of a state's resources and pending operations: what the resources
 * are, not when they were last touched (a state only rewritten hashes the same).
 */
function stateDigest(deployment: Deployment): string {
  const resources = (deployment.resources ?? []).map(({ created: _c, modified: _m, ...rest }) => rest);
  return sha256(stableJson({ resources, pending: deployment.pending_operations ?? [] })).slice(0, 16);
}

/** A state's resources as {@link StateResource}s. */
function stateResources(deployment: Deployment): readonly StateResource[] {
  return (deployment.resources ?? []).flatMap((r) => {
    if (typeof r.urn !== "string" || typeof r.type !== "string") return [];
    return [
      {
        urn: r.urn,
        type: r.type,
        custom: r.custom === true,
        ...(typeof r.parent === "string" && r.parent ? { parent: r.parent } : {}),
        ...(typeof r.provider === "string" && r.provider ? { provider: r.provider } : {}),
        ...(r.protect === true ? { protect: true } : {}),
        ...(r.outputs && typeof r.outputs === "object"
          ? { outputs: r.outputs as Record<string, unknown> }
          : {}),
      },
    ];
  });
}
