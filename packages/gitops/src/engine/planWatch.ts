/**
 * Holds an `up` to the steps its preview showed, without `pulumi up --plan`
 * (which also compares every property, and refuses real providers whose
 * apply reports other values than their preview): the update's own step
 * events are compared with the preview's steps, and the update is stopped at
 * the first create, update, delete or replace the preview did not show.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { PlanDivergedError } from "../errors.js";
import type { PlannedStep } from "./types.js";

const IGNORED_TYPES = /^pulumi:(pulumi:Stack|providers:)/;

/** The preview's name for an engine step op, or `undefined` for steps that change nothing. */
function plannedOp(op: string): PlannedStep["op"] | undefined {
  switch (op) {
    case "create":
    case "update":
    case "delete":
      return op;
    case "replace":
    case "create-replacement":
    case "delete-replaced":
    case "discard-replaced":
      return "replace";
    default:
      // same, read, refresh, and a refresh's steps inside `up --refresh`.
      return undefined;
  }
}

/** Watches one `up`'s events against its preview's steps; no steps to expect watches nothing. */
export class PlanWatch {
  readonly #expected: Map<string, PlannedStep["op"]> | undefined;
  readonly #abort = new AbortController();
  #unexpected: string | undefined;

  constructor(expected: readonly PlannedStep[] | undefined) {
    this.#expected = expected ? new Map(expected.map((s) => [s.urn, s.op])) : undefined;
  }

  /** Aborted at the first step the preview did not show. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  readonly onEvent = (event: EngineEvent): void => {
    const pre = event.resourcePreEvent?.metadata;
    if (!this.#expected || !pre || this.#unexpected || IGNORED_TYPES.test(pre.type)) return;
    const op = plannedOp(pre.op);
    if (!op || this.#expected.get(pre.urn) === op) return;
    const shown = this.#expected.get(pre.urn);
    const article = shown === "update" ? "an" : "a";
    this.#unexpected = `${op} ${pre.urn}, where the preview showed ${shown ? `${article} ${shown}` : "no change"}`;
    this.#abort.abort(new PlanDivergedError(`the update was about to ${this.#unexpected}`));
  };

  /** The error to report instead of the update's own when it was stopped for a step the preview did not show. */
  diverged(cause: unknown): PlanDivergedError | undefined {
    if (!this.#unexpected) return undefined;
    return new PlanDivergedError(`the update was about to ${this.#unexpected}; it was stopped`, 0, { cause });
  }
}
