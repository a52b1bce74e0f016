// Secret values: reading them from their sources, and redacting them from every text the reconciler writes.
import { readFileSync } from "node:fs";
import { StalledError } from "./errors.js";
import type { SecretSource } from "./spec.js";

/**
 * A secret's source is missing or empty: an unset or empty environment
 * variable, a file that cannot be read or holds nothing. Retrying cannot help
 * until someone provides it, so a run stalls (reason `InvalidConfig`) instead
 * of failing and retrying forever; the message names the field and the source,
 * never a value.
 */
export class SecretUnavailableError extends StalledError {
  /** Where the secret was looked for. */
  readonly source: Exclude<SecretSource, string>;
  constructor(what: string, source: Exclude<SecretSource, string>, problem: string) {
    super("InvalidConfig", `${what}: ${problem}`);
    this.source = source;
  }
}

/**
 * Reads a {@link SecretSource} at the moment it is needed, so rotated secrets take effect on the next run.
 * @throws SecretUnavailableError when the variable is unset or empty, or the file cannot be read or is empty
 */
export function readSecret(source: SecretSource, what: string): string {
  if (typeof source === "string") return source;
  if ("env" in source) {
    const value = process.env[source.env];
    if (value === undefined || value === "") {
      throw new SecretUnavailableError(
        what,
        source,
        `environment variable ${source.env} is ${value === undefined ? "not set" : "empty"}`,
      );
    }
    return value;
  }
  let value: string;
  try {
    value = readFileSync(source.file, "utf8").trim();
  } catch (error) {
    throw new SecretUnavailableError(
      what,
      source,
      `cannot read ${source.file} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  if (value === "") throw new SecretUnavailableError(what, source, `file ${source.file} is empty`);
  return value;
}

/**
 * Replaces every known secret value, and credentials in URLs, with `[redacted]`.
 * Used on everything that leaves a run: logs, events, errors, history rows.
 */
export class Redactor {
  #secrets = new Set<string>();
  /** Finds where any secret starts (longest first at each position); built on first use after `add`. */
  #finder: RegExp | undefined;

  /** Registers values to hide; values shorter than 4 characters are ignored to keep text readable. */
  add(...values: readonly (string | undefined)[]): this {
    for (const value of values) if (value && value.length >= 4) this.#secrets.add(value);
    this.#finder = undefined;
    return this;
  }

  redact(text: string): string {
    let out = text.replace(/(\b[a-z][\w+.-]*:\/\/)[^\s/@]+@/gi, "$1[redacted]@");
    if (this.#secrets.size === 0) return out;
    // One pass finds the secrets the text holds (a lookahead matches at every
    // position, so overlapping ones are found too); only those are replaced.
    // With thousands of secrets that is one scan instead of thousands.
    this.#finder ??= new RegExp(
      `(?=(${[...this.#secrets]
        .sort((a, b) => b.length - a.length)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|")}))`,
      "g",
    );
    const found = new Set<string>();
    for (const match of out.matchAll(this.#finder)) found.add(match[1] as string);
    // Longest first: a secret that contains another must not leave its tail behind.
    for (const secret of [...found].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join("[redacted]");
    }
    return out;
  }
}

/** A repository URL safe to show: credentials stripped. */
export function publicRepoUrl(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)[^\s/@]+@/i, "$1");
}
