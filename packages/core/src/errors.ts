/**
 * Base class of every error Driftless components throw, so a program can tell
 * them apart from provider or engine failures with one `instanceof`.
 */
export class DriftlessError extends Error {
  override name = "DriftlessError";
}

/** One field of an `Args` object that failed validation. */
export interface ValidationProblem {
  /** The field's path, e.g. `ingress.host` or `mounts[1].path`. */
  readonly field: string;
  /** What is wrong, e.g. `must be at least 1`. */
  readonly reason: string;
  /** The value that was given. */
  readonly value: unknown;
}

/**
 * An `Args` object failed validation before any child resource was created.
 * The message names the component, its name and, for every problem found, the
 * field and the bad value: all problems are reported at once.
 */
export class ValidationError extends DriftlessError {
  override name = "ValidationError";
  readonly component: string;
  readonly resourceName: string;
  /** Every problem found, in the order the fields were checked. */
  readonly problems: readonly ValidationProblem[];
  /** The first problem's field. */
  readonly field: string;
  /** The first problem's value. */
  readonly value: unknown;

  constructor(component: string, resourceName: string, problems: readonly ValidationProblem[]) {
    const lines = problems.map((p) => `\`${p.field}\` ${p.reason}, got ${describeValue(p.value)}`);
    super(
      lines.length === 1
        ? `${component} \`${resourceName}\`: ${lines[0]}`
        : `${component} \`${resourceName}\`: ${lines.length} problems:\n${lines.map((l) => `  - ${l}`).join("\n")}`,
    );
    this.component = component;
    this.resourceName = resourceName;
    this.problems = [...problems];
    this.field = problems[0]?.field ?? "";
    this.value = problems[0]?.value;
  }
}

/** One broken `error` rule, as carried by {@link GuardrailViolationError}. */
export interface GuardrailFinding {
  readonly ruleId: string;
  /** `type` and logical name, e.g. `kubernetes:apps/v1:Deployment "api"`. */
  readonly resource: string;
  readonly message: string;
}

/**
 * Rules with severity `error` found violations while the program declared a
 * resource; every broken rule of that resource is listed, not only the first.
 */
export class GuardrailViolationError extends DriftlessError {
  override name = "GuardrailViolationError";
  /** Every violation found, in rule order. */
  readonly violations: readonly GuardrailFinding[];
  /** The first violation's rule. */
  readonly ruleId: string;
  /** The first violation's resource. */
  readonly resource: string;

  constructor(violations: readonly GuardrailFinding[]) {
    super(
      violations.length === 1
        ? (violations[0] as GuardrailFinding).message
        : `${violations.length} guardrail violations:\n${violations.map((v) => `  - ${v.message}`).join("\n")}`,
    );
    this.violations = [...violations];
    this.ruleId = violations[0]?.ruleId ?? "";
    this.resource = violations[0]?.resource ?? "";
  }
}

/** Renders a value for an error message: strings quoted, objects as JSON, never more than 120 chars. */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = "undefined";
  else if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
