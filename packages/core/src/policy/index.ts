export {
  enableGuardrails,
  evaluateGuardrails,
  type GuardrailLog,
  type GuardrailOptions,
  type Violation,
} from "./guardrails.js";
export type { GuardrailRule, ResourceUnderReview, Severity } from "./rule.js";
export {
  BUILT_IN_RULES,
  type BuiltInRuleId,
  containerResourceLimits,
  containersOf,
  DATABASE_PORTS,
  imageTagProblem,
  noLatestTag,
  noOpenDatabaseIngress,
  noPublicBucket,
  RULE_IDS,
} from "./rules.js";
export { WAIVER_PROPERTY, waive } from "./waive.js";
