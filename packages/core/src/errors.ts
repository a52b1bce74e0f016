/**
 * Base class of every error Driftless components throw, so a program can tell
 * them apart from provider or engine failures with one `instanceof`.
 */
export class DriftlessError extends Error {
  override name = "DriftlessError";
}

/**
 * An `Args` object failed validation before any child resource was created.
 * The message names the component, its name, the field and the bad value.
 */
export class ValidationError extends DriftlessError {
  override name = "ValidationError";
  readonly component: string;
  readonly resourceName: string;
  readonly field: string;
  readonly value: unknown;

  constructor(component: string, resourceName: string, field: string, reason: string, value: unknown) {
    super(`${component} \`${resourceName}\`: \`${field}\` ${reason}, got ${describeValue(value)}`);
    this.component = component;
    this.resourceName = resourceName;
    this.field = field;
    this.value = value;
  }
}

/** A guardrail rule with severity `error` found a violation while the program declared resources. */
export class GuardrailViolationError extends DriftlessError {
  override name = "GuardrailViolationError";
  readonly ruleId: string;
  readonly resource: string;

  constructor(ruleId: string, resource: string, message: string) {
    super(message);
    this.ruleId = ruleId;
    this.resource = resource;
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
