/**
 * A request's dashboard session as every part of one request sees it, read
 * once (see ../../perRequest.ts): the cookie's signature and revocation, and
 * for a session signed in with a token, that token. A session lives no longer
 * than the credential it was made with: once its personal token is revoked,
 * expired or gone, or its named token is no longer in the config, the session
 * no longer identifies anyone, and the dashboard answers it with the login
 * form (401, audited) instead; so does a named token's once the config's
 * token of that name has another secret (rotated). A named token's session
 * has the roles the config gives the token now.
 */
import type { IncomingMessage } from "node:http";
import type { PersonalTokenStore } from "../../../store/store.js";
import type { Identity } from "../../auth/identity.js";
import { perRequest } from "../../perRequest.js";
import type { Session, Sessions } from "./session.js";

/** A session whose identity no longer holds, and why. */
export interface EndedSession {
  /** Who the session was of (the audit log names them). */
  readonly identity: Identity;
  /** Why, in words for the login page and the audit log (never a secret). */
  readonly reason: string;
}

/** What a request's session cookie amounts to. */
export interface RequestSession {
  /**
   * The session of a valid cookie, anonymous ones too; for an ended session a
   * copy without its identity (its CSRF token still holds, so logout works).
   */
  readonly session?: Session;
  /** Who is signed in; absent when nobody is, or the session ended. */
  readonly identity?: Identity;
  /** Set when the cookie names someone whose credential no longer holds. */
  readonly ended?: EndedSession;
}

/** The id of the personal token behind a session's identity, if it came from one. */
function personalTokenId(identity: Identity): string | undefined {
  return identity.kind === "personal" && identity.id.startsWith("personal:")
    ? identity.id.slice("personal:".length)
    : undefined;
}

/**
 * Why a session signed in with a personal token ended, or `undefined` while
 * the token holds (and for every other kind of session).
 */
export async function personalSessionEnded(
  identity: Identity,
  store: PersonalTokenStore | undefined,
  now: number,
): Promise<string | undefined> {
  if (identity.kind !== "personal") return undefined;
  const id = personalTokenId(identity);
  // Without the store the token cannot be checked: the session ends rather than trusting it.
  if (id === undefined || !store) return "the personal token it was signed in with cannot be checked";
  const row = await store.personalToken(id);
  if (!row) return `the personal token it was signed in with (${id}) no longer exists`;
  const named = `the personal token ${JSON.stringify(row.label)} (${id}) it was signed in with`;
  if (row.revokedAt) return `${named} was revoked`;
  if (Date.parse(row.expiresAt) <= now) return `${named} expired`;
  return undefined;
}

/** A session as seen by a request after its identity ended: anonymous, same id and CSRF token. */
function withoutIdentity(session: Session): Session {
  return {
    id: session.id,
    csrf: session.csrf,
    authenticated: false,
    expiresAt: session.expiresAt,
    cookie: session.cookie,
  };
}

/** A named API token of the config, as a session made with it is checked against. */
export interface ConfiguredToken {
  /** Its identity, with the roles the config gives it now. */
  readonly identity: Identity;
  /** Its secret now (read each time: a file or variable may have been rotated); throws when unreadable. */
  readonly secret: () => string;
}

/**
 * A session signed in with a named API token holds while the config still
 * has that token, under its name and with the same secret (rotating a token
 * ends the sessions made with the old one), with the roles the config gives
 * it now (not those it had at sign-in); `{ reason }` when it no longer holds.
 * @param madeWith - the session's {@link Session.madeWith}
 */
export function namedTokenSession(
  identity: Identity,
  named: (id: string) => ConfiguredToken | undefined,
  madeWith?: (secret: string) => boolean,
): { readonly identity: Identity } | { readonly reason: string } {
  if (identity.kind !== "token") return { identity };
  const token = `the API token ${JSON.stringify(identity.name)} it was signed in with`;
  const current = named(identity.id);
  if (!current) return { reason: `${token} is no longer configured` };
  let secret: string;
  try {
    secret = current.secret();
  } catch {
    return { reason: `${token} cannot be read now` };
  }
  // A session from before sessions were bound to their token cannot be checked: it ends too.
  if (!madeWith?.(secret)) return { reason: `${token} was replaced since (or cannot be checked)` };
  return { identity: { ...identity, roles: current.identity.roles } };
}

/**
 * Reads each request's session once: `sessions.get`, then the credential
 * behind it — the personal token in the store, or the named token in the
 * config (`named`: the identity of a configured token by its id).
 */
export function requestSessions(
  sessions: Sessions,
  personal: PersonalTokenStore | undefined,
  named: (id: string) => ConfiguredToken | undefined,
  now: () => number = Date.now,
): (req: IncomingMessage) => Promise<RequestSession> {
  return perRequest(async (req) => {
    const session = await sessions.get(req);
    if (!session) return {};
    const signedIn = session.authenticated ? session.identity : undefined;
    if (!signedIn) return { session };
    const token = namedTokenSession(signedIn, named, session.madeWith);
    const reason = "reason" in token ? token.reason : await personalSessionEnded(signedIn, personal, now());
    if (reason === undefined && "identity" in token) return { session, identity: token.identity };
    return { session: withoutIdentity(session), ended: { identity: signedIn, reason: reason as string } };
  });
}
