import type { TransformInput } from "../internal/stackTransform.js";

/** `error` stops the program, `warning` logs and continues. */
export type Severity = "error" | "warning";

/** The resource a rule judges: its type token, logical name and input properties. */
export type ResourceUnderReview = TransformInput;

/**
 * One guardrail. `check` returns a sentence per violation (empty when the
 * resource complies); it sees input properties as declared, so it judges only
 * values known at declaration time and lets Outputs pass.
 */
export interface GuardrailRule {
  /** Stable id used in messages, waivers and severity overrides, e.g. `no-latest-tag`. */
  readonly id: string;
  /** Default severity; {@link GuardrailOptions.severityOverrides} can change it. */
  readonly severity: Severity;
  /** One line saying what the rule protects against. */
  readonly description: string;
  check(resource: ResourceUnderReview): readonly string[];
}

/** One rule broken by one resource. */
export interface Violation {
  readonly ruleId: string;
  readonly severity: Severity;
  /** `type` and logical name, e.g. `kubernetes:apps/v1:Deployment "api"`. */
  readonly resource: string;
  readonly message: string;
  /** The waiver's reason when the resource waived the rule. */
  readonly waivedBecause?: string;
}
