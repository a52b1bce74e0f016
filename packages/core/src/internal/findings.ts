// Guardrail findings of a program run under `@driftless/core/testing`: while
// a collector is active, guardrails record every violation instead of throwing
// at the first resource, so a test sees all of them at once.
import type { Violation } from "../policy/rule.js";

let active: Violation[] | undefined;

/** Starts collecting; returns the list findings are appended to. */
export function startCollecting(): Violation[] {
  active = [];
  return active;
}

/** Stops collecting. */
export function stopCollecting(): void {
  active = undefined;
}

/** The active collector, `undefined` outside a test run. */
export function collector(): Violation[] | undefined {
  return active;
}
