/**
 * Who a request comes from, and what it may ask for: the types the API's
 * authentication (named tokens, dashboard sessions, OpenID Connect), its
 * authorization (roles per target and action) and its audit log share.
 */

/** What a caller may be allowed to do to a target (`admin` covers every action and the service itself). */
export type Action =
  | "read"
  | "reconcile"
  | "preview"
  | "approve"
  | "promote"
  | "rollback"
  | "suspend"
  | "resume"
  | "admin";

/** Every {@link Action}, in the order documentation lists them. */
export const ACTIONS: readonly Action[] = [
  "read",
  "reconcile",
  "preview",
  "approve",
  "promote",
  "rollback",
  "suspend",
  "resume",
  "admin",
];

/** An authenticated caller: a named API token, a personal token, or a user signed in through OpenID Connect. */
export interface Identity {
  /**
   * Stable and unique: `token:<name>` for a configured token, `personal:<id>`
   * for a personal token, `oidc:<issuer>#<subject>` for a signed-in user.
   */
  readonly id: string;
  readonly kind: "token" | "personal" | "user";
  /** What records show as `by`: the token's name, or the user's preferred name or email. */
  readonly name: string;
  /** The user's email address (compared with a commit's author for four-eyes approvals). */
  readonly email?: string;
  /**
   * The identity provider's subject of a user, and of the user who owns a
   * personal token (policy bindings name users by email or subject).
   */
  readonly subject?: string;
  /** Groups from the identity provider's groups claim; empty for tokens. */
  readonly groups: readonly string[];
  /** Roles bound directly to this identity (a token's `roles`). */
  readonly roles: readonly string[];
}

/** Resolves a presented bearer token to the identity it stands for; `undefined` when it is unknown, expired or revoked. */
export type TokenResolver = (given: string) => Promise<Identity | undefined>;
