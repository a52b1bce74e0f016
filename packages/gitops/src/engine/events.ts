/**
 * Reading the engine's event stream: planned and applied steps folded into
 * counts with their property changes, refresh drift, error diagnostics,
 * progress and its run-log lines, and the stack's outputs with secrets masked.
 */

import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation/index.js";
import { stableJson } from "../util.js";
import { changedPaths, maskedSecretPaths } from "./driftPaths.js";
import type {
  ChangeCounts,
  DriftedResource,
  EngineProgress,
  ObjectIdentity,
  PlannedStep,
  PropertyChange,
} from "./types.js";

const IGNORED_TYPES = /^pulumi:(pulumi:Stack|providers:)/;

export function emptyCounts(): ChangeCounts {
  return { create: 0, update: 0, delete: 0, replace: 0, same: 0 };
}

/** Folds engine step events into counts and steps; replacement halves are counted once. */
export class StepCollector {
  readonly counts = emptyCounts();
  readonly steps: PlannedStep[] = [];
  /** Error diagnostics, which say why a failed operation failed better than its exit status. */
  readonly errors: string[] = [];
  /**
   * Whether an operation that changes or reads real resources (not a
   * preview) reported an error on a resource rather than on the program: a
   * provider call failed (a rollout that did not become ready, an API error),
   * which may well succeed on a later try.
   */
  resourceFailed = false;
  /** Resources refresh found changed or gone (drift). */
  readonly drift: DriftedResource[] = [];
  /** The live outputs refresh read for the resources it found changed, by URN (`null`: gone). */
  readonly live = new Map<string, Readonly<Record<string, unknown>> | null>();
  /** The stack's outputs as the engine reported them (secrets masked), once it did. */
  stackOutputs: Record<string, unknown> | undefined;
  readonly #onProgress: ((event: EngineProgress) => void) | undefined;
  readonly #preview: boolean;
  /**
   * Which half of a replacement the engine announced first, per URN: it
   * announces `create-replacement` before the `replace` when it creates
   * first, `delete-replaced` before it when it deletes first.
   */
  readonly #firstHalf = new Map<string, "create-replacement" | "delete-replaced">();

  /** Reading a `pulumi refresh --preview-only`: see {@link StepCollector.refreshPreview}. */
  readonly #refreshPreview: boolean;

  /**
   * @param preview - the events are a preview's: steps are planned, never done
   * @param refreshPreview - the events are `pulumi refresh --preview-only`'s:
   *   drift is what the engine's refresh diff says an `up` of the unchanged
   *   program would change, and each drifted resource plans the step that puts
   *   it back (see {@link refreshPreviewStep})
   */
  constructor(onProgress?: (event: EngineProgress) => void, preview = false, refreshPreview = false) {
    this.#onProgress = onProgress;
    this.#preview = preview || refreshPreview;
    this.#refreshPreview = refreshPreview;
  }

  /** A collector of `pulumi refresh --preview-only` events (a drift check that runs no program). */
  static refreshPreview(onProgress?: (event: EngineProgress) => void): StepCollector {
    return new StepCollector(onProgress, true, true);
  }

  /** Drift and the step that puts it back, from one step of a `pulumi refresh --preview-only`. */
  #refreshDiff(out: StepEventMetadata | undefined): void {
    if (!out || IGNORED_TYPES.test(out.type)) return;
    const step = refreshPreviewStep(out);
    if (!step) {
      if (out.op === "same") this.counts.same++;
      return;
    }
    this.#drifted(out);
    this.counts[step.op]++;
    this.steps.push(step);
  }

  /** A resource a refresh read changed or gone: its changed paths, and what it read. */
  #drifted(out: StepEventMetadata): void {
    const paths = out.new ? changedPaths(out.old?.outputs, out.new.outputs) : undefined;
    const secretPaths = paths ? maskedSecretPaths(out.old?.outputs, out.new?.outputs) : undefined;
    this.drift.push({
      urn: out.urn,
      type: out.type,
      ...(paths?.length ? { paths } : {}),
      ...(secretPaths?.length ? { secretPaths } : {}),
      ...(out.new ? {} : { gone: true }),
    });
    this.live.set(out.urn, out.new?.outputs ?? null);
  }

  /** Forgets what an attempt collected, before the operation is tried again. */
  reset(): void {
    Object.assign(this.counts, emptyCounts());
    this.steps.length = 0;
    this.errors.length = 0;
    this.resourceFailed = false;
    this.drift.length = 0;
    this.live.clear();
    this.stackOutputs = undefined;
    this.#firstHalf.clear();
  }

  readonly onEvent = (raw: EngineEvent): void => {
    if (this.#refreshPreview) this.#refreshDiff(raw.resOutputsEvent?.metadata);
    // A refresh names its steps by what they do to the state; read as any refreshing operation's.
    const event = this.#refreshPreview ? asRefreshEvent(raw) : raw;
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
      if (diag.severity === "error") {
        this.errors.push(diag.message.trim());
        if (!this.#preview && diag.urn && !IGNORED_TYPES.test(urnType(diag.urn))) this.resourceFailed = true;
      }
    }
    if (
      !this.#refreshPreview &&
      out?.op === "refresh" &&
      !IGNORED_TYPES.test(out.type) &&
      refreshChanged(out)
    )
      this.#drifted(out);
    if (!pre || IGNORED_TYPES.test(pre.type)) return;
    if ((pre.op === "create-replacement" || pre.op === "delete-replaced") && !this.#firstHalf.has(pre.urn))
      this.#firstHalf.set(pre.urn, pre.op);
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
      ...(op === "replace" ? replacement(pre, this.#firstHalf.get(pre.urn)) : {}),
    });
  };
}

/**
 * The step an `up` of the unchanged program would take to put back what a
 * `pulumi refresh --preview-only` step found: the engine frames a refresh's
 * diff from the state to the live resource (its `update` carries that diff,
 * computed by the provider with the resource's `ignoreChanges`; a `same` found
 * nothing that matters; a `delete` found it gone), so the step's properties go
 * the other way, from live back to what was applied. `undefined` for a step
 * that found nothing.
 */
export function refreshPreviewStep(step: StepEventMetadata): PlannedStep | undefined {
  if (step.op === "delete") return { op: "create", urn: step.urn, type: step.type };
  if (step.op !== "update") return undefined;
  const back: StepEventMetadata = {
    ...step,
    old: step.new,
    new: step.old,
    ...(step.detailedDiff
      ? {
          detailedDiff: Object.fromEntries(
            Object.entries(step.detailedDiff).map(([path, diff]) => {
              const kind = String(diff.diffKind ?? (diff as { kind?: string }).kind ?? "update");
              const [base, replace] = kind.split("-");
              const turned = base === "add" ? "delete" : base === "delete" ? "add" : base;
              return [path, { ...diff, diffKind: (replace ? `${turned}-${replace}` : turned) as never }];
            }),
          ),
        }
      : {}),
  };
  const diffs = propertyChanges(back);
  return {
    op: diffs.some((d) => d.replace) ? "replace" : "update",
    urn: step.urn,
    type: step.type,
    ...(step.keys ? { keys: step.keys } : {}),
    ...(diffs.length > 0 ? { diffs } : {}),
  };
}

/**
 * An event of `pulumi refresh` as a refreshing preview reports it: the
 * refresh command names its steps by what they do to the state (`update`,
 * `delete`, `same`), a refreshing preview or update calls them all
 * `refresh`; drift and the run's log read them one way.
 */
export function asRefreshEvent(event: EngineEvent): EngineEvent {
  const pre = event.resourcePreEvent;
  const out = event.resOutputsEvent;
  if (pre) return { ...event, resourcePreEvent: { ...pre, metadata: { ...pre.metadata, op: "refresh" } } };
  if (out) return { ...event, resOutputsEvent: { ...out, metadata: { ...out.metadata, op: "refresh" } } };
  return event;
}

/** The order and the identities of a replacement, as far as its step says. */
function replacement(
  step: StepEventMetadata,
  firstHalf: "create-replacement" | "delete-replaced" | undefined,
): Pick<PlannedStep, "replaceOrder" | "objects"> {
  const old = identity(step.old?.outputs, step.old?.inputs);
  const next = identity(step.new?.inputs, step.new?.outputs);
  return {
    ...(firstHalf
      ? { replaceOrder: firstHalf === "delete-replaced" ? "delete-before-replace" : "create-before-delete" }
      : {}),
    ...(old.name !== undefined || next.name !== undefined ? { objects: { old, new: next } } : {}),
  };
}

/**
 * apiVersion, kind, namespace and name of an object, from its properties
 * (the live outputs first for the old object, the inputs first for the new
 * one); only plain strings count, never a secret or an unknown value.
 */
function identity(
  first: Record<string, unknown> | undefined,
  second: Record<string, unknown> | undefined,
): ObjectIdentity {
  const text = (path: string): string | undefined => {
    for (const props of [first, second]) {
      const value = valueAt(props, path);
      if (typeof value === "string" && value !== "" && value !== UNKNOWN && value !== "[secret]")
        return value;
    }
    return undefined;
  };
  const found = {
    apiVersion: text("apiVersion"),
    kind: text("kind"),
    namespace: text("metadata.namespace"),
    name: text("metadata.name"),
  };
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v !== undefined)) as ObjectIdentity;
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
    // Inside a secret everything is secret: the secret stands for the value.
    if (SECRET_SIG in value) return value;
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
      // A path the inputs do not hold (`data.password` of a Secret declared by
      // `stringData`) is read from the live state; a secret on one side is a secret on both.
      let old = valueAt(before, path) ?? valueAt(step.old?.outputs, path);
      let next = valueAt(after, path);
      if (kind === "update" && next === undefined && containsSecret(old)) next = old;
      if (kind === "update" && old === undefined && containsSecret(next)) old = next;
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
 * Warnings about the engine's setup rather than the run (`using
 * pulumi-language-nodejs from $PATH at …`): the same on every run of the
 * process, so said in the first run's log only.
 */
const SETUP_WARNING = /^using pulumi-[\w.-]+ from \$PATH at /;
const setupWarned = new Set<string>();

/**
 * Renders engine progress as run log lines. One renderer serves all of a
 * run's operations: a warning the engine repeats for each (once per plugin
 * per operation) is said once, and a warning about the engine's setup (see
 * {@link SETUP_WARNING}) once per process. A preview's steps read as plans
 * (`plan delete …`), never as done work; unchanged resources are not listed.
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
        if (SETUP_WARNING.test(message)) {
          if (setupWarned.has(message)) return undefined;
          setupWarned.add(message);
        }
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

/** Pulumi's marker of a secret value in engine events and serialized state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Stack outputs (from an engine event or the state), each value holding a secret as `[secret]`. */
export function maskedOutputs(outputs: Record<string, unknown> | undefined): Record<string, unknown> {
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

/** The type of a resource URN (`urn:pulumi:stack::project::type::name`; a child's type is `parent$type`). */
function urnType(urn: string): string {
  return urn.split("::")[2]?.split("$").at(-1) ?? "";
}
