import * as pulumi from "@pulumi/pulumi";
import { DriftlessError, GuardrailViolationError } from "../errors.js";
import { collector } from "../internal/findings.js";
import { registerPropsTransform, type TransformMode } from "../internal/stackTransform.js";
import type { GuardrailRule, ResourceUnderReview, Severity, Violation } from "./rule.js";
import { BUILT_IN_RULES } from "./rules.js";
import { markGuardrailsEnabled, takeWaivers } from "./waive.js";

export type { Violation } from "./rule.js";

/** Where guardrail findings are logged; defaults to the Pulumi log. */
export interface GuardrailLog {
  warn(message: string): void;
  info(message: string): void;
}

/** Inputs of {@link enableGuardrails}. */
export interface GuardrailOptions {
  /**
   * Rules to enforce; add your own {@link GuardrailRule}s to the built-in ones.
   * @default BUILT_IN_RULES
   */
  readonly rules?: readonly GuardrailRule[];
  /**
   * Per-rule severity, or `off` to disable a rule for the whole program.
   * @default - each rule's own severity
   */
  readonly severityOverrides?: Readonly<Record<string, Severity | "off">>;
  /**
   * Where warnings and used waivers are logged.
   * @default pulumi.log
   */
  readonly log?: GuardrailLog;
}

/**
 * Runs `rules` against one resource. Pure: it reports, the caller decides.
 * Waived violations are returned with `waivedBecause` set.
 */
export function evaluateGuardrails(
  resource: ResourceUnderReview,
  rules: readonly GuardrailRule[],
  waivers: Readonly<Record<string, string>> = {},
  severityOverrides: Readonly<Record<string, Severity | "off">> = {},
): Violation[] {
  const label = `${resource.type} "${resource.name}"`;
  const violations: Violation[] = [];
  for (const rule of rules) {
    const severity = severityOverrides[rule.id] ?? rule.severity;
    if (severity === "off") continue;
    for (const finding of rule.check(resource)) {
      const waivedBecause = waivers[rule.id];
      violations.push({
        ruleId: rule.id,
        severity,
        resource: label,
        message:
          `guardrail \`${rule.id}\` (${severity}): ${label} ${finding}. ` +
          `To waive it, declare the resource with \`waive("${rule.id}", "<reason>")\` in its options.`,
        ...(waivedBecause === undefined ? {} : { waivedBecause }),
      });
    }
  }
  return violations;
}

/**
 * Enforces guardrails on every resource declared after this call: violations
 * of `error` rules throw one {@link GuardrailViolationError} listing all of
 * the resource's violations (the resource is refused and the run fails; one
 * preview reports every violating resource), a `warning` is logged. Under `runProgram` from
 * `@driftless/core/testing`, every finding of every resource is collected
 * instead, so a test sees them all at once.
 * Call it once, first thing in the program.
 *
 * @see https://www.pulumi.com/docs/iac/concepts/options/transforms/
 */
export function enableGuardrails(options: GuardrailOptions = {}): { readonly mode: TransformMode } {
  const rules = options.rules ?? BUILT_IN_RULES;
  const severityOverrides = options.severityOverrides ?? {};
  const log = options.log ?? pulumi.log;
  const ids = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) throw new DriftlessError(`enableGuardrails: rule id \`${rule.id}\` is used twice`);
    ids.add(rule.id);
  }
  for (const [id, severity] of Object.entries(severityOverrides)) {
    if (!ids.has(id)) {
      throw new DriftlessError(
        `enableGuardrails: \`severityOverrides\` names the unknown rule \`${id}\` (set to ${JSON.stringify(severity)}); known rules: ${[...ids].join(", ")}`,
      );
    }
  }
  markGuardrailsEnabled();
  const mode = registerPropsTransform((resource) => {
    const { props, waivers } = takeWaivers(resource.props);
    const stripped = props !== resource.props;
    if (!resource.custom) return stripped ? props : undefined;
    const errors: Violation[] = [];
    const found = evaluateGuardrails({ ...resource, props }, rules, waivers, severityOverrides);
    for (const v of found) {
      if (v.waivedBecause !== undefined)
        log.info(`guardrail \`${v.ruleId}\` waived for ${v.resource}: ${v.waivedBecause}`);
      else if (v.severity === "warning") log.warn(v.message);
      else errors.push(v);
    }
    const collecting = collector();
    if (collecting) collecting.push(...found);
    else if (errors.length > 0) throw new GuardrailViolationError(errors);
    return stripped ? props : undefined;
  });
  return { mode };
}
