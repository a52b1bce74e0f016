import { ValidationError, type ValidationProblem } from "../errors.js";

/**
 * Collects the checks of one component's `Args`. Checks record problems and
 * go on, so {@link Validator.done} throws one {@link ValidationError} listing
 * every problem at once (like gitops' `SpecError`); each check only says which
 * field and why. Call `done()` before creating any child.
 */
export class Validator {
  readonly #component: string;
  readonly #name: string;
  readonly #problems: ValidationProblem[] = [];

  constructor(component: string, name: string) {
    this.#component = component;
    this.#name = name;
  }

  /** Records a problem with `field`. */
  fail(field: string, reason: string, value: unknown): void {
    this.#problems.push({ field, reason, value });
  }

  /** Records a problem with `field` unless `ok`; returns `ok`. */
  check(ok: boolean, field: string, reason: string, value: unknown): boolean {
    if (!ok) this.fail(field, reason, value);
    return ok;
  }

  /** Whether any problem was recorded so far. */
  get failed(): boolean {
    return this.#problems.length > 0;
  }

  /** Throws one {@link ValidationError} listing every recorded problem; returns when there is none. */
  done(): void {
    if (this.#problems.length > 0) throw new ValidationError(this.#component, this.#name, this.#problems);
  }

  /** An integer within `[min, max]`; `undefined` passes (the default applies). */
  integer(field: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
    if (value === undefined) return;
    if (!Number.isInteger(value)) this.fail(field, "must be an integer", value);
    else if (value < min) this.fail(field, `must be at least ${min}`, value);
    else if (value > max) this.fail(field, `must be at most ${max}`, value);
  }

  /**
   * A Kubernetes int-or-percent: a count from 0, or a whole percentage from
   * `0%` to `100%` (Kubernetes' IntOrString fields); `example` shows one in the message.
   */
  countOrPercent(field: string, value: number | string | undefined, example: string): void {
    if (typeof value === "number") this.integer(field, value, 0);
    else if (value !== undefined)
      this.check(
        /^(100|[1-9]?[0-9])%$/.test(value),
        field,
        `must be a count or a percentage like \`${example}\``,
        value,
      );
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
    else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
      this.fail(
        field,
        "must be a DNS label (lower-case letters, digits and `-`, alphanumeric at both ends)",
        value,
      );
    }
  }

  /**
   * Kubernetes label or annotation keys and, for labels, values. Empty label
   * values are valid (Kubernetes accepts them).
   * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
   */
  labels(field: string, labels: Readonly<Record<string, string>> | undefined): void {
    for (const [key, value] of Object.entries(labels ?? {})) {
      this.check(isQualifiedName(key), `${field}.${key}`, "is not a valid label key", key);
      this.check(
        value === "" || /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value),
        `${field}.${key}`,
        "is not a valid label value",
        value,
      );
    }
  }

  /** Kubernetes annotation keys (values are free text). */
  annotations(field: string, annotations: Readonly<Record<string, unknown>> | undefined): void {
    for (const key of Object.keys(annotations ?? {})) {
      this.check(isQualifiedName(key), `${field}.${key}`, "is not a valid annotation key", key);
    }
  }
}

/** `prefix/name` or `name`: a DNS subdomain prefix and a 63-character name. */
function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(prefix)) return false;
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name);
}
