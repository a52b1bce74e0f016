/**
 * Errors carry a policy: how the reconciler should react to them.
 *
 * - {@link RetryableError}: transient (network, lock held, engine busy); retried
 *   with capped exponential backoff and jitter.
 * - {@link StalledError}: retrying the same revision cannot help (the program
 *   does not compile, bad config, a safety gate refused); the target waits for a
 *   new revision or an explicit trigger.
 * - {@link SpecError}: invalid input to a public entry point.
 * - {@link UnknownTargetError}, {@link NothingToApproveError},
 *   {@link ReconcilerStoppedError}: a command that cannot be served as asked.
 */
export class DriftlessError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem in a user-supplied spec or config: where, what value, what is allowed. */
export interface SpecIssue {
  /** Dotted path of the offending field, e.g. `targets[2].interval`. */
  readonly path: string;
  readonly message: string;
}

/** A target spec or configuration file failed validation. */
export class SpecError extends DriftlessError {
  readonly issues: readonly SpecIssue[];
  constructor(subject: string, issues: readonly SpecIssue[]) {
    super(`${subject}: ${issues.map((i) => (i.path ? `\`${i.path}\` ${i.message}` : i.message)).join("; ")}`);
    this.issues = issues;
  }
}

/**
 * Several spec errors as one, so one pass reports every problem: the message
 * lists each error's own (one per line), the issues are all of them.
 */
export function combineSpecErrors(errors: readonly [SpecError, ...SpecError[]]): SpecError {
  if (errors.length === 1) return errors[0];
  const combined = new SpecError(
    "targets",
    errors.flatMap((e) => e.issues),
  );
  combined.message = errors.map((e) => e.message).join("\n");
  return combined;
}

/** A transient failure; the run is retried after {@link retryAfterMs} at the earliest. */
export class RetryableError extends DriftlessError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs = 0, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The engine's setup lacks something a run needs (a plugin, a tool on PATH):
 * not the program's fault, so the run is retried with backoff and recovers
 * once the setup is fixed. The message says what is missing and how to provide it.
 */
export class SetupError extends RetryableError {}

/**
 * An `up` was about to do something its preview did not show (the stack's
 * live state or another update moved between them): it was stopped, and the
 * run is planned again so the gates see what would really change.
 */
export class PlanDivergedError extends RetryableError {}

/** The stack's state is not the one the preview planned against (another update changed it). */
export class StateMovedError extends PlanDivergedError {
  readonly planned: string;
  readonly current: string;
  constructor(planned: string, current: string) {
    super(`the stack's state changed since the preview (${planned} → ${current})`);
    this.planned = planned;
    this.current = current;
  }
}

/**
 * The store's database cannot be reached (a PostgreSQL outage or restart).
 * Runs pause and are retried; nothing is applied without a store to record it.
 */
export class StoreUnavailableError extends RetryableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 5000, options);
  }
}

/** Why a target stalled; stable strings so status and metrics can aggregate on them. */
export type StallReason =
  | "ProgramFailed"
  | "GateRefused"
  | "SourceRefRewritten"
  | "SourceRefMissing"
  | "InvalidConfig"
  | "DependenciesFailed";

/** Retrying the same revision cannot succeed; wait for a new revision or an explicit trigger. */
export class StalledError extends DriftlessError {
  readonly reason: StallReason;
  constructor(reason: StallReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** A safety gate refused to apply a plan; released by a new revision or {@link Reconciler.approve}. */
export class GateRefusedError extends StalledError {
  readonly gate: string;
  constructor(gate: string, message: string) {
    super("GateRefused", message);
    this.gate = gate;
  }
}

/** The run was cancelled (timeout, shutdown or an AbortSignal) and the engine stopped cleanly. */
export class CancelledError extends DriftlessError {}

/** A command named a target the reconciler does not manage (HTTP 404). */
export class UnknownTargetError extends DriftlessError {
  readonly target: string;
  constructor(target: string, known: readonly string[]) {
    super(`unknown target "${target}" (known: ${known.join(", ") || "none"})`);
    this.target = target;
  }
}

/** `approve` found no plan awaiting approval and no stalled revision to release (HTTP 409). */
export class NothingToApproveError extends DriftlessError {
  readonly target: string;
  constructor(target: string, revision?: string) {
    super(
      `target "${target}" has no revision waiting for approval${revision ? ` matching ${JSON.stringify(revision)}` : ""}`,
    );
    this.target = target;
  }
}

/** A run was requested after `stop` (HTTP 503). */
export class ReconcilerStoppedError extends DriftlessError {
  constructor() {
    super("the reconciler is stopped");
  }
}

/**
 * This replica stopped owning a target while a run of it was going on: its
 * lease moved to another replica, or this one could not renew it in time and
 * fenced itself. The run is aborted with it, and its engine is killed at once
 * (no graceful cancel that would let an in-flight operation finish): another
 * replica may own the stack by now.
 */
export class TargetLostError extends DriftlessError {
  readonly target: string;
  constructor(target: string, reason: string) {
    super(`this replica stopped target "${target}": ${reason}`);
    this.target = target;
  }
}

/**
 * A write for a target was refused because the writer no longer owns it:
 * another replica took its lease (a higher epoch). The writer drops the target.
 */
export class FencedError extends DriftlessError {
  readonly target: string;
  constructor(target: string, owner: string, epoch: number) {
    super(
      `the write for target "${target}" by ${owner} at epoch ${epoch} was refused: another replica owns the target now`,
    );
    this.target = target;
  }
}
