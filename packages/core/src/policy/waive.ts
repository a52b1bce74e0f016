import * as pulumi from "@pulumi/pulumi";
import { DriftlessError } from "../errors.js";
import { isRecord } from "../internal/inputs.js";

/**
 * Property under which waivers travel from {@link waive} to the guardrail
 * transform, which always removes it before the provider sees the props.
 */
export const WAIVER_PROPERTY = "__driftlessWaivers";

const stacksWithGuardrails = new WeakSet<object>();
const NO_STACK = {};

/** Called by `enableGuardrails`: waivers start travelling for the current stack. */
export function markGuardrailsEnabled(): void {
  stacksWithGuardrails.add(pulumi.runtime.getStackResource() ?? NO_STACK);
}

function guardrailsEnabled(): boolean {
  return stacksWithGuardrails.has(pulumi.runtime.getStackResource() ?? NO_STACK);
}

/**
 * Resource options that waive guardrail `ruleId` for a resource and, when given
 * to a component, for all of its children. The reason is required and is
 * logged whenever the waiver suppresses a violation.
 *
 * Merge with other options through the third argument (or `pulumi.mergeOptions`):
 * `waive("no-latest-tag", "vendor ships only latest", { provider })`.
 *
 * Implementation: a resource transformation (in-process, inherited by children)
 * records the waiver in the props under {@link WAIVER_PROPERTY}, where the
 * guardrail transform, which runs after it in both transform modes, reads and
 * removes it. Without `enableGuardrails` the transformation does nothing.
 */
export function waive<T extends pulumi.ResourceOptions>(ruleId: string, reason: string, opts?: T): T {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(ruleId)) {
    throw new DriftlessError(
      `waive: \`ruleId\` must be a rule id like "no-latest-tag", got ${JSON.stringify(ruleId)}`,
    );
  }
  if (reason.trim().length < 3) {
    throw new DriftlessError(
      `waive: \`reason\` must say why rule \`${ruleId}\` is waived, got ${JSON.stringify(reason)}`,
    );
  }
  const transformation: pulumi.ResourceTransformation = ({ props, opts: resourceOpts }) => {
    if (!guardrailsEnabled()) return undefined;
    const existing = isRecord(props[WAIVER_PROPERTY]) ? props[WAIVER_PROPERTY] : {};
    // The innermost waiver wins: it is the most specific reason.
    if (ruleId in existing) return undefined;
    return {
      props: { ...props, [WAIVER_PROPERTY]: { ...existing, [ruleId]: reason.trim() } },
      opts: resourceOpts,
    };
  };
  return pulumi.mergeOptions(opts ?? ({} as T), { transformations: [transformation] }) as T;
}

/** Reads and strips the waivers from `props`. */
export function takeWaivers(props: pulumi.Inputs): { props: pulumi.Inputs; waivers: Record<string, string> } {
  if (!(WAIVER_PROPERTY in props)) return { props, waivers: {} };
  const { [WAIVER_PROPERTY]: raw, ...rest } = props;
  const waivers = isRecord(raw)
    ? Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === "string"))
    : {};
  return { props: rest, waivers };
}
