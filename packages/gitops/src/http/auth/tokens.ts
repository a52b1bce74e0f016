/**
 * API tokens: named tokens from the config, each an identity with roles, the
 * old anonymous form (an `admin` named after its position), and personal
 * tokens that signed-in users create, kept in the store as hashes only.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { readSecret } from "../../spec/secrets.js";
import type { SecretSource } from "../../spec/spec.js";
import type { PersonalTokenStore } from "../../store/store.js";
import { safeEqual } from "../signatures.js";
import type { Identity, TokenResolver } from "./identity.js";

/** A named API token: who it is, where its value is read from, and its roles. */
export interface ApiToken {
  /** Names the token in records (`by`), refusals and bindings: letters, digits, `.`, `_` and `-`. */
  readonly name: string;
  /** Where its value is read (per request, so a rotated value takes effect at once). */
  readonly secret: SecretSource;
  /** Roles given to it (bindings may add more). @default [] */
  readonly roles?: readonly string[];
}

/** What `tokens` accepts: named tokens, or (the old form) bare secrets, each an `admin` named `token-<position>`. */
export type TokenOption = ApiToken | SecretSource;

/** Whether an entry is the old anonymous form. */
export function isAnonymous(token: TokenOption): token is SecretSource {
  return typeof token === "string" || !("name" in token);
}

/** Every entry as a named token; anonymous ones become `admin` tokens named `token-1`, `token-2`, … */
export function namedTokens(tokens: readonly TokenOption[]): ApiToken[] {
  return tokens.map((token, i) =>
    isAnonymous(token) ? { name: `token-${i + 1}`, secret: token, roles: ["admin"] } : token,
  );
}

/** The identity of a named token. */
export function tokenIdentity(token: ApiToken): Identity {
  return { id: `token:${token.name}`, kind: "token", name: token.name, groups: [], roles: token.roles ?? [] };
}

/** The prefix of every personal token, so a leaked one is recognisable (and scanners can find it). */
export const PERSONAL_PREFIX = "dlpt_";

/** A personal token's digest as stored: sha256 of the token, hex. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A new personal token: `dlpt_<id>_<secret>`, 32 random bytes of secret; the id finds the row. */
export function newPersonalToken(): { readonly id: string; readonly token: string } {
  const id = randomBytes(9).toString("base64url");
  return { id, token: `${PERSONAL_PREFIX}${id}_${randomBytes(32).toString("base64url")}` };
}

/**
 * Resolves bearer tokens: every named token is compared (so the time taken
 * does not say which matched), then personal tokens by their id and digest.
 */
export function tokenResolver(
  tokens: readonly TokenOption[],
  options: {
    readonly log?: Logger;
    readonly personal?: PersonalTokenStore;
    readonly now?: () => number;
  } = {},
): TokenResolver {
  const named = namedTokens(tokens);
  const now = options.now ?? Date.now;
  return async (given) => {
    if (!given) return undefined;
    let found: ApiToken | undefined;
    for (const token of named) {
      try {
        if (safeEqual(readSecret(token.secret, `token ${token.name}`), given)) found ??= token;
      } catch (error) {
        options.log?.error((error as Error).message);
      }
    }
    if (found) return tokenIdentity(found);
    const match = /^dlpt_([\w-]{12})_[\w-]{43}$/.exec(given);
    if (!match || !options.personal) return undefined;
    const row = await options.personal.personalToken(match[1] as string);
    if (!row || row.revokedAt || Date.parse(row.expiresAt) <= now()) return undefined;
    if (!safeEqual(row.digest, tokenDigest(given))) return undefined;
    return {
      ...row.owner,
      id: `personal:${row.id}`,
      kind: "personal",
    };
  };
}
