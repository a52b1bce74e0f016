import { ValidationError } from "../errors.js";

/**
 * Collects the checks of one component's `Args`: every failure throws a
 * {@link ValidationError} that already knows the component and its name, so
 * each check only says which field and why.
 */
export class Validator {
  readonly #component: string;
  readonly #name: string;

  constructor(component: string, name: string) {
    this.#component = component;
    this.#name = name;
  }

  fail(field: string, reason: string, value: unknown): never {
    throw new ValidationError(this.#component, this.#name, field, reason, value);
  }

  check(ok: boolean, field: string, reason: string, value: unknown): void {
    if (!ok) this.fail(field, reason, value);
  }

  /** An integer within `[min, max]`; `undefined` passes (the default applies). */
  integer(field: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
    if (value === undefined) return;
    if (!Number.isInteger(value)) this.fail(field, "must be an integer", value);
    if (value < min) this.fail(field, `must be at least ${min}`, value);
    if (value > max) this.fail(field, `must be at most ${max}`, value);
  }

  /** A TCP/UDP port number. */
  port(field: string, value: number | undefined): void {
    this.integer(field, value, 1, 65535);
  }

  /** One of a closed set of strings (guards JavaScript callers that bypass the types). */
  oneOf<T extends string>(field: string, value: T | undefined, allowed: readonly T[]): void {
    if (value !== undefined && !allowed.includes(value)) {
      this.fail(field, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`, value);
    }
  }

  nonEmpty(field: string, value: string | undefined): void {
    if (value !== undefined && value.trim() === "") this.fail(field, "must not be empty", value);
  }

  /** A Kubernetes DNS-1123 label (names of Services, Namespaces, containers). */
  dnsLabel(field: string, value: string | undefined, maxLength = 63): void {
    if (value === undefined) return;
    if (value.length > maxLength) this.fail(field, `must be at most ${maxLength} characters`, value);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
      this.fail(
        field,
        "must be a DNS label (lower-case letters, digits and `-`, alphanumeric at both ends)",
        value,
      );
    }
  }
}
