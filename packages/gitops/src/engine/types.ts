/**
 * The engine's vocabulary: plans, steps, change counts, progress, the stack
 * request and the {@link Engine} interface. Imports nothing of its own, so the
 * runner (`engine.ts`), its helpers and the modules above can all share it.
 */
import type { PulumiFn } from "@pulumi/pulumi/automation/index.js";

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
  /** Refresh found the resource gone (deleted outside of Pulumi). */
  readonly gone?: boolean;
}

/**
 * One resource of a stack's state as the checkpoint records it. `outputs` is
 * the live object the provider last read (secrets still encrypted or marked):
 * callers keep from it what they need and never store it.
 */
export interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly custom: boolean;
  readonly parent?: string;
  /** The provider reference, `<provider URN>::<provider id>`. */
  readonly provider?: string;
  readonly protect?: boolean;
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/** The stack's state as one read of it gives it: its digest and its resources. */
export interface StackState {
  /** As {@link Engine.stateVersion} computes it. */
  readonly version: string;
  readonly resources: readonly StateResource[];
  /** The stack's secrets provider and its state (the passphrase's salt), as the checkpoint records it. */
  readonly secrets?: { readonly type?: string; readonly state?: Readonly<Record<string, unknown>> };
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
  /**
   * With `refresh`: the live outputs refresh read for the resources it found
   * changed, by URN (`null` for one gone). A preview's refresh does not write
   * the state, so this is the newest view of them; never stored.
   */
  readonly live?: ReadonlyMap<string, Readonly<Record<string, unknown>> | null>;
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
  /**
   * For a refresh, preview or `up`: operate on these resources only
   * (`--target <urn>`); a watch's drift check of the objects that changed.
   */
  readonly targets?: readonly string[];
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
   * `PulumiEngine` starts no engine process for a stored state with no
   * resource and no pending operation: it returns no drift.
   */
  refresh?(request: StackRequest, options?: EngineOperationOptions): Promise<readonly DriftedResource[]>;
  /**
   * A drift check that runs no program (`pulumi refresh --preview-only`,
   * usually with `targets`): reads the live resources and keeps nothing. Its
   * plan holds what an `up` of the program the state records would change
   * to put them back — the engine's refresh diff, made by the provider with
   * each resource's `ignoreChanges` — as `drift` and one step per drifted
   * resource (a gone one is created again). Only right while the program and
   * its config are the ones last applied: a watch's check of the applied
   * revision. Engines without it run a targeted preview instead.
   */
  previewRefresh?(request: StackRequest, options?: EngineOperationOptions): Promise<Plan>;
  /** Clears what an interrupted run left behind: stale locks, pending operations. Returns what it did. */
  recover(request: StackRequest, options?: EngineOperationOptions): Promise<string[]>;
  /**
   * A digest of the stack's state (resources and pending operations, not
   * timestamps): equal digests mean an approved plan still starts from the
   * state it was made against. Engines without it cannot pin plans to state.
   */
  stateVersion?(request: StackRequest): Promise<string>;
  /**
   * The resources of the stack's state, read as {@link stateVersion} reads it
   * (a `file://` backend's checkpoint without a CLI process, `stack export`
   * otherwise). Engines without it keep no inventory.
   */
  resources?(request: StackRequest): Promise<readonly StateResource[]>;
  /**
   * The digest and the resources from one read of the state: a run that
   * needs both (a plan pinned to the state, then the inventory) reads it once.
   * Engines without it are asked {@link stateVersion} and {@link resources} apart.
   */
  state?(request: StackRequest): Promise<StackState>;
}
