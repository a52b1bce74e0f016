// Secret values: reading them from their sources, and redacting them from every text the reconciler writes.
import { readFileSync } from "node:fs";
import { StalledError } from "../errors.js";
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
 * The values of the sources that can be read now; one that cannot is left
 * out (it is reported where it is used, not where it is only masked).
 */
export function readableSecrets(sources: readonly SecretSource[]): string[] {
  return sources.flatMap((source) => {
    try {
      return [readSecret(source, "secret")];
    } catch {
      return [];
    }
  });
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
    let out = maskUrlCredentials(text);
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

/**
 * Credentials in URLs: a scheme of at most 32 characters, then everything up
 * to the last `@` before the next `/` or space, as Go's URL parser (the
 * backend's) reads an unencoded `@` in a password. The bounded scheme keeps
 * the scan linear: an unbounded `[\w+.-]*` before `://` rescans the rest of a
 * long word from each of its characters (quadratic on `a.a.a.…`).
 */
const URL_CREDENTIALS = /(\b[a-z][\w+.-]{0,31}:\/\/)[^\s/]*@/gi;

/** Replaces the credentials of every URL in `text` with `[redacted]`. */
function maskUrlCredentials(text: string): string {
  // Most texts hold no URL at all; they are returned without a regex scan.
  return text.includes("://") ? text.replace(URL_CREDENTIALS, "$1[redacted]@") : text;
}

/**
 * A repository URL safe to show: user and password removed. The URL is
 * parsed (which takes the last `@` of the authority, as the backend does);
 * text that does not parse loses everything up to the last `@` before its
 * first `/` after the scheme.
 */
export function publicRepoUrl(url: string): string {
  const scheme = /^[a-z][\w+.-]{0,31}:\/\//i.exec(url)?.[0];
  if (!scheme) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    const rest = url.slice(scheme.length);
    const end = rest.search(/[/\s]/);
    const authority = end < 0 ? rest : rest.slice(0, end);
    const at = authority.lastIndexOf("@");
    return at < 0 ? url : scheme + rest.slice(at + 1);
  }
}
