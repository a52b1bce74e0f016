// The access settings of `driftless.yaml`: `tokens` (named, or the old anonymous form), `roles`, `bindings`, `defaultRole`.
import { isAbsolute, resolve } from "node:path";
import type { SpecIssue } from "../errors.js";
import { type Binding, type Grant, type PolicyOptions, policyIssues } from "../http/auth/policy.js";
import type { TokenOption } from "../http/auth/tokens.js";

/** The access settings, checked. */
export interface AccessConfig {
  readonly tokens: readonly TokenOption[];
  readonly policy: PolicyOptions;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENV = /^[A-Za-z_][A-Za-z0-9_]*$/;
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/** A `{ env }` / `{ file }` source, a relative file resolved against the config's directory. */
function source(raw: Record<string, unknown>, base: string): { env: string } | { file: string } | undefined {
  if (typeof raw.env === "string" && ENV.test(raw.env) && raw.file === undefined) return { env: raw.env };
  if (typeof raw.file === "string" && raw.file !== "" && raw.env === undefined) {
    return { file: isAbsolute(raw.file) ? raw.file : resolve(base, raw.file) };
  }
  return undefined;
}

/**
 * Reads `tokens`, `roles`, `bindings` and `defaultRole` of a config file;
 * every problem names its key path and value.
 */
export function accessConfig(
  input: Record<string, unknown>,
  base: string,
): { config: AccessConfig; issues: SpecIssue[] } {
  const issues: SpecIssue[] = [];
  const tokens: TokenOption[] = [];
  const rawTokens = input.tokens ?? [];
  if (!Array.isArray(rawTokens)) {
    issues.push({ path: "tokens", message: "must be a list of { name, env | file, roles }" });
  }
  const seen = new Set<string>();
  (Array.isArray(rawTokens) ? rawTokens : []).forEach((raw: unknown, i) => {
    const at = `tokens[${i}]`;
    // Never echoed: an inline value is likely the secret itself.
    const where =
      "must be { env: NAME } or { file: path }, with a `name` and `roles`; secrets are never written into the config";
    if (!isObject(raw)) {
      issues.push({ path: at, message: where });
      return;
    }
    const unknown = Object.keys(raw).filter((k) => !["name", "env", "file", "roles"].includes(k));
    if (unknown.length > 0) {
      issues.push({
        path: at,
        message: `has unknown keys ${unknown.join(", ")}; use name, env or file, roles`,
      });
    }
    const secret = source(raw, base);
    if (!secret) {
      issues.push({ path: at, message: where });
      return;
    }
    if (raw.name === undefined) {
      if (raw.roles !== undefined)
        issues.push({ path: `${at}.roles`, message: "needs a `name` for the token" });
      tokens.push(secret);
      return;
    }
    if (typeof raw.name !== "string" || !NAME.test(raw.name)) {
      issues.push({
        path: `${at}.name`,
        message: `must be letters, digits, ".", "_" or "-" (at most 63), got ${JSON.stringify(raw.name)}`,
      });
      return;
    }
    if (seen.has(raw.name)) {
      issues.push({ path: `${at}.name`, message: `is already used, got ${JSON.stringify(raw.name)}` });
    }
    seen.add(raw.name);
    if (raw.roles !== undefined && !strings(raw.roles)) {
      issues.push({
        path: `${at}.roles`,
        message: `must be a list of role names, got ${JSON.stringify(raw.roles)}`,
      });
      return;
    }
    tokens.push({ name: raw.name, secret, roles: (raw.roles as string[] | undefined) ?? [] });
  });

  const roles = input.roles ?? {};
  if (!isObject(roles))
    issues.push({ path: "roles", message: "must map role names to lists of { actions, targets }" });
  const bindings = input.bindings ?? [];
  if (!Array.isArray(bindings))
    issues.push({ path: "bindings", message: "must be a list of { role, users, groups, tokens }" });
  const defaultRole = input.defaultRole;
  if (defaultRole !== undefined && typeof defaultRole !== "string") {
    issues.push({ path: "defaultRole", message: `must be a role name, got ${JSON.stringify(defaultRole)}` });
  }
  const policy: PolicyOptions = {
    roles: (isObject(roles) ? roles : {}) as Record<string, Grant[]>,
    bindings: (Array.isArray(bindings) ? bindings : []) as Binding[],
    ...(typeof defaultRole === "string" ? { defaultRole } : {}),
  };
  const names = tokens.flatMap((t) => ("name" in (t as object) ? [(t as { name: string }).name] : []));
  // Roles named by tokens must exist, as bound ones must.
  const known = new Set(["admin", "reader", ...Object.keys(policy.roles ?? {})]);
  tokens.forEach((t, i) => {
    for (const role of (t as { roles?: string[] }).roles ?? []) {
      if (!known.has(role)) {
        issues.push({
          path: `tokens[${i}].roles`,
          message: `is not a role, got ${JSON.stringify(role)}; roles are ${[...known].join(", ")}`,
        });
      }
    }
  });
  if (issues.length === 0) issues.push(...policyIssues(policy, names));
  return { config: { tokens, policy }, issues };
}
