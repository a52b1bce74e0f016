/**
 * Who may do what: roles grant actions on target globs, bindings give roles
 * to users, groups and tokens, and signed-in users get a default role. One
 * {@link Policy} answers every check the router, the dashboard and the
 * approval rules make. A short module rather than casbin or CASL: the model
 * is three small lists, and its refusals must name the missing permission in
 * the words of the config (see README "Who may do what").
 */
import { SpecError, type SpecIssue } from "../../errors.js";
import { ACTIONS, type Action, type Identity } from "./identity.js";

/** One grant of a role: these actions on the targets whose names match one of these globs (`*`, `?`). */
export interface Grant {
  readonly actions: readonly Action[];
  /** Target name globs: `*` matches any run of characters, `?` one. @default ["*"] */
  readonly targets?: readonly string[];
}

/** Gives a role to identities: users (by email or subject), groups of the identity provider, and API tokens (by name). */
export interface Binding {
  readonly role: string;
  readonly users?: readonly string[];
  readonly groups?: readonly string[];
  readonly tokens?: readonly string[];
}

/** The policy as configured (`roles`, `bindings`, `defaultRole` in `driftless.yaml`). */
export interface PolicyOptions {
  /** Roles by name. `admin` (every action on every target) and `reader` (`read` on every target) are built in. @default {} */
  readonly roles?: Readonly<Record<string, readonly Grant[]>>;
  /** @default [] */
  readonly bindings?: readonly Binding[];
  /** The role of every signed-in user (and their personal tokens) besides those bound. @default - none: a user without a binding may do nothing */
  readonly defaultRole?: string;
}

/** The roles every policy has. */
export const BUILT_IN_ROLES: Readonly<Record<string, readonly Grant[]>> = {
  admin: [{ actions: ["admin"], targets: ["*"] }],
  reader: [{ actions: ["read"], targets: ["*"] }],
};

const GLOB = /^[A-Za-z0-9._*?-]+$/;

/** A glob as a regular expression matching whole target names. */
function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.-]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

interface CompiledGrant {
  readonly actions: ReadonlySet<Action>;
  readonly targets: readonly RegExp[];
  /** Whether a glob is `*` (the grant covers the service, not only some targets). */
  readonly everywhere: boolean;
}

/** How a refusal names who was refused: `token ci-deployer`, `user ada@example.com`. */
export function describe(identity: Identity | undefined): string {
  if (!identity) return "an anonymous caller";
  const kind =
    identity.kind === "user" ? "user" : identity.kind === "personal" ? "personal token of" : "token";
  return `${kind} ${identity.name}`;
}

/** Checks a policy's options; every problem names its field and value. */
export function policyIssues(options: PolicyOptions, tokenNames: readonly string[] = []): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const roles = options.roles ?? {};
  for (const [role, grants] of Object.entries(roles)) {
    if (role in BUILT_IN_ROLES) {
      issues.push({
        path: `roles.${role}`,
        message: `is built in and cannot be redefined, got ${JSON.stringify(role)}`,
      });
      continue;
    }
    if (!Array.isArray(grants)) {
      issues.push({ path: `roles.${role}`, message: "must be a list of { actions, targets }" });
      continue;
    }
    grants.forEach((grant, i) => {
      const at = `roles.${role}[${i}]`;
      if (!Array.isArray(grant?.actions) || grant.actions.length === 0) {
        issues.push({ path: `${at}.actions`, message: `must be a list of ${ACTIONS.join(", ")}` });
      }
      for (const action of grant?.actions ?? []) {
        if (!ACTIONS.includes(action)) {
          issues.push({
            path: `${at}.actions`,
            message: `has an unknown action ${JSON.stringify(action)}; actions are ${ACTIONS.join(", ")}`,
          });
        }
      }
      for (const glob of grant?.targets ?? []) {
        if (typeof glob !== "string" || !GLOB.test(glob)) {
          issues.push({
            path: `${at}.targets`,
            message: `has a bad glob ${JSON.stringify(glob)}: use target name characters with * and ?`,
          });
        }
      }
    });
  }
  const known = (role: unknown) => typeof role === "string" && (role in BUILT_IN_ROLES || role in roles);
  const roleList = [...Object.keys(BUILT_IN_ROLES), ...Object.keys(roles)].join(", ");
  (options.bindings ?? []).forEach((binding, i) => {
    if (!known(binding?.role)) {
      issues.push({
        path: `bindings[${i}].role`,
        message: `is not a role, got ${JSON.stringify(binding?.role)}; roles are ${roleList}`,
      });
    }
    if (!binding?.users?.length && !binding?.groups?.length && !binding?.tokens?.length) {
      issues.push({ path: `bindings[${i}]`, message: "binds nobody: give users, groups or tokens" });
    }
    for (const name of binding?.tokens ?? []) {
      if (!tokenNames.includes(name)) {
        issues.push({
          path: `bindings[${i}].tokens`,
          message: `names no configured token, got ${JSON.stringify(name)}`,
        });
      }
    }
  });
  if (options.defaultRole !== undefined && !known(options.defaultRole)) {
    issues.push({
      path: "defaultRole",
      message: `is not a role, got ${JSON.stringify(options.defaultRole)}; roles are ${roleList}`,
    });
  }
  return issues;
}

/** The roles an identity holds: its own, those bound to it, and the default role of users. */
export function rolesOf(options: PolicyOptions, identity: Identity): string[] {
  const roles = new Set(identity.roles);
  const email = identity.email?.toLowerCase();
  for (const binding of options.bindings ?? []) {
    const byUser = (binding.users ?? []).some(
      (u) =>
        (email !== undefined && u.toLowerCase() === email) ||
        (identity.subject !== undefined && u === identity.subject),
    );
    const byGroup = (binding.groups ?? []).some((g) => identity.groups.includes(g));
    const byToken = identity.kind === "token" && (binding.tokens ?? []).includes(identity.name);
    if (byUser || byGroup || byToken) roles.add(binding.role);
  }
  if (options.defaultRole !== undefined && identity.kind !== "token") roles.add(options.defaultRole);
  return [...roles];
}

/** A checked, compiled policy. */
export class Policy {
  readonly #options: PolicyOptions;
  readonly #roles: ReadonlyMap<string, readonly CompiledGrant[]>;

  /** @throws SpecError naming the field and value of every problem */
  constructor(options: PolicyOptions = {}, tokenNames: readonly string[] = []) {
    const issues = policyIssues(options, tokenNames);
    if (issues.length > 0) throw new SpecError("the access policy", issues);
    this.#options = options;
    const all = { ...BUILT_IN_ROLES, ...(options.roles ?? {}) };
    this.#roles = new Map(
      Object.entries(all).map(([role, grants]) => [
        role,
        grants.map((g) => {
          const globs = g.targets ?? ["*"];
          return {
            actions: new Set(g.actions),
            targets: globs.map(globRegExp),
            everywhere: globs.includes("*"),
          };
        }),
      ]),
    );
  }

  /** The grants of the identity's roles. */
  #grants(identity: Identity): CompiledGrant[] {
    return rolesOf(this.#options, identity).flatMap((role) => this.#roles.get(role) ?? []);
  }

  /**
   * Whether the identity may take the action on the target. Without a target:
   * whether it may on some target (`admin` without a target: on every one).
   * `admin` covers every action.
   */
  allows(identity: Identity | undefined, action: Action, target?: string): boolean {
    if (!identity) return false;
    return this.#grants(identity).some((g) => {
      if (!g.actions.has(action) && !g.actions.has("admin")) return false;
      if (target === undefined) return action !== "admin" || g.everywhere;
      return g.targets.some((re) => re.test(target));
    });
  }

  /** Why the identity may not take the action, for a 403 body; `undefined` when it may. */
  refusal(identity: Identity | undefined, action: Action, target?: string): string | undefined {
    if (this.allows(identity, action, target)) return undefined;
    const what =
      target === undefined
        ? action === "admin"
          ? "administer this service"
          : `${action} any target`
        : `${action} ${target}`;
    return `${describe(identity)} may not ${what} (needs ${action}${target === undefined ? "" : ` on ${target}`})`;
  }
}
