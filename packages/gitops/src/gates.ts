// Safety gates between preview and `up`: protected types, the share of a stack a plan may delete, empty plans.
import type { Plan } from "./engine.js";
import type { GateOptions } from "./spec.js";

/** A gate's verdict on a plan: `undefined` lets it through. */
export interface GateRefusal {
  /** Stable id of the gate: `empty-program`, `destructive-share` or `protected-type`. */
  readonly gate: "empty-program" | "destructive-share" | "protected-type";
  readonly message: string;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/**
 * Checks a plan against the safety gates before `up`: an empty program over a
 * non-empty stack, too large a share of deletes and replaces, and deletes or
 * replaces of protected types.
 */
export function checkGates(plan: Plan, gates: Required<GateOptions>): GateRefusal | undefined {
  const { counts } = plan;
  const existing = counts.same + counts.update + counts.delete + counts.replace;
  const destructive = plan.steps.filter((s) => s.op === "delete" || s.op === "replace");
  const empty = existing > 0 && counts.delete === existing && counts.create === 0;
  if (empty && !gates.allowEmpty) {
    return {
      gate: "empty-program",
      message: `the program declares no resources but the stack has ${existing}; refusing to delete them all (set gates.allowEmpty to allow)`,
    };
  }
  if (gates.allowDestructive) return undefined;
  const patterns = gates.protectedTypes.map(globToRegExp);
  const protectedSteps = destructive.filter((s) => patterns.some((p) => p.test(s.type)));
  if (protectedSteps.length > 0) {
    const list = protectedSteps.map((s) => `${s.op} ${s.urn}`).join(", ");
    return {
      gate: "protected-type",
      message: `the plan would ${list}, a protected type; approve this revision or set gates.allowDestructive`,
    };
  }
  // An allowed empty program deletes everything by definition; only protected types still need approval.
  if (!empty && existing > 0 && destructive.length / existing > gates.maxDestructiveShare) {
    const share = Math.round((destructive.length / existing) * 100);
    return {
      gate: "destructive-share",
      message:
        `the plan deletes or replaces ${destructive.length} of ${existing} resources (${share}%), ` +
        `more than the ${Math.round(gates.maxDestructiveShare * 100)}% allowed; approve this revision or raise gates.maxDestructiveShare`,
    };
  }
  return undefined;
}
