// Safety gates between preview and `up`: protected types, the share of a stack a plan may delete, empty plans,
// and replacements that would delete the object they just created.
import type { ObjectIdentity, Plan, PlannedStep } from "../engine/types.js";
import type { GateOptions } from "../spec/spec.js";

/** A gate's verdict on a plan: `undefined` lets it through. */
export interface GateRefusal {
  /** Stable id of the gate: `empty-program`, `same-name-replacement`, `destructive-share` or `protected-type`. */
  readonly gate: "empty-program" | "same-name-replacement" | "destructive-share" | "protected-type";
  readonly message: string;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/** The API group of an apiVersion: `apps` for `apps/v1`, `` for `v1`. */
function apiGroup(apiVersion: string | undefined): string | undefined {
  if (apiVersion === undefined) return undefined;
  return apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
}

/**
 * Whether a replacement names the very object it replaces: same API group and
 * kind, same `metadata.name`, same namespace (an unset namespace is the
 * provider's default, which may be the old one's). Another version of the same
 * group and kind is the same object to the API server.
 */
function sameObject(old: ObjectIdentity, next: ObjectIdentity): boolean {
  // Only objects that name their apiVersion and kind (Kubernetes) are identified by name this way.
  if (old.apiVersion === undefined || old.kind === undefined) return false;
  if (old.name === undefined || old.name !== next.name) return false;
  if (old.kind !== next.kind || apiGroup(old.apiVersion) !== apiGroup(next.apiVersion)) return false;
  return old.namespace === undefined || next.namespace === undefined || old.namespace === next.namespace;
}

/**
 * Replacements the engine would make create-before-delete although the
 * replacement is the same object as the one it replaces: creating it (a
 * server-side apply) updates the existing object, and deleting the replaced
 * one then deletes it (pulumi-kubernetes#4522).
 */
export function sameNameReplacements(plan: Plan): PlannedStep[] {
  return plan.steps.filter(
    (s) =>
      s.op === "replace" &&
      s.replaceOrder !== "delete-before-replace" &&
      s.objects !== undefined &&
      sameObject(s.objects.old, s.objects.new),
  );
}

/**
 * Checks a plan against the safety gates before `up`: an empty program over a
 * non-empty stack, a create-before-delete replacement of an object by itself,
 * too large a share of deletes and replaces, and deletes or replaces of
 * protected types. Only a person's approval passes the same-name gate:
 * `allowDestructive` accepts deletes, not the loss of an object the revision declares.
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
  const sameName = sameNameReplacements(plan);
  if (sameName.length > 0) {
    const list = sameName
      .map((s) => {
        const o = s.objects!.new;
        const where = o.namespace ?? s.objects!.old.namespace;
        return `${s.urn} (${o.kind ?? "object"} ${where ? `${where}/` : ""}${s.objects!.old.name})`;
      })
      .join(", ");
    return {
      gate: "same-name-replacement",
      message:
        `the plan replaces ${list} create-before-delete with an object of the same name: ` +
        "creating the replacement would update the existing object and deleting the replaced one would then delete it; " +
        "set `deleteBeforeReplace: true` on the resource (or let it take a generated or content-addressed name), " +
        "or approve this revision to delete the object and create it again",
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
