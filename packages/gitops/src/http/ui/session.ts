/**
 * Dashboard sessions, held by no server: a bearer token is exchanged at the
 * login form for a signed cookie (HttpOnly, SameSite=Strict, Secure under
 * TLS) that names a random session id, whether it logged in, and when it
 * expires, with an HMAC over all three. Every process with the same key
 * accepts it, so sessions survive a restart and work across replicas. The
 * CSRF token every POST must carry is an HMAC of the session id: bound to the
 * session, stored nowhere. Logout clears the cookie and revokes the id until
 * it would have expired (in the store when one is given, so every replica
 * sharing it agrees; else in this process), so a copy of the cookie is
 * refused too. The API token itself is never
 * stored, and no key is derivable from a cookie.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { readSecret } from "../../spec/secrets.js";
import type { SecretSource } from "../../spec/spec.js";
import type { SessionRevocations } from "../../store/store.js";
import type { Identity } from "../auth/identity.js";
import { header } from "../router.js";
import { safeEqual } from "../signatures.js";

/** One browser's session; `authenticated` once a valid token was given. */
export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly authenticated: boolean;
  /** Milliseconds since the epoch after which the cookie is refused. */
  readonly expiresAt: number;
  /** Who logged in (signed into the cookie with the rest). */
  readonly identity?: Identity;
  /** The cookie's value. */
  readonly cookie: string;
}

/** Cookie name of the dashboard's session. */
export const SESSION_COOKIE = "driftless_session";

/** Options of {@link Sessions}. */
export interface SessionsOptions {
  /**
   * The signing keys: the first signs, any verifies (several allow rotation).
   * Read per request, so a rotated key takes effect at once.
   */
  readonly keys: () => readonly Buffer[];
  /** How long a session lasts from its login. @default 28800000 (8 hours) */
  readonly ttlMs?: number;
  /** Where revoked session ids are kept. @default - a new {@link MemoryRevocations} */
  readonly revocations?: SessionRevocations;
  /** The clock. @default Date.now */
  readonly now?: () => number;
}

/** Revocations held by this process alone: gone on restart, unseen by other replicas. */
export class MemoryRevocations implements SessionRevocations {
  /** Revoked session ids and when they would have expired. */
  readonly #revoked = new Map<string, number>();

  async revokeSession(id: string, expiresAt: number): Promise<void> {
    const now = Date.now();
    for (const [revoked, expires] of this.#revoked) if (expires <= now) this.#revoked.delete(revoked);
    this.#revoked.set(id, expiresAt);
  }

  async isSessionRevoked(id: string): Promise<boolean> {
    return this.#revoked.has(id);
  }
}

const b64 = (buf: Buffer) => buf.toString("base64url");
const mac = (key: Buffer, text: string) => b64(createHmac("sha256", key).update(text).digest());

/** Signed, stateless sessions; only logouts are remembered, until the sessions they end expire. */
export class Sessions {
  readonly #keys: () => readonly Buffer[];
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #revocations: SessionRevocations;

  constructor(options: SessionsOptions) {
    this.#keys = options.keys;
    this.#ttlMs = options.ttlMs ?? 8 * 3600_000;
    this.#now = options.now ?? Date.now;
    this.#revocations = options.revocations ?? new MemoryRevocations();
  }

  /** The request's session from its cookie: signed by a current key, not expired, not revoked. */
  async get(req: IncomingMessage): Promise<Session | undefined> {
    const value = cookies(req)[SESSION_COOKIE];
    const parts = value?.split(".") ?? [];
    if (parts.length !== 4 && parts.length !== 5) return undefined;
    // A fifth part is the identity (base64url JSON), signed with the rest.
    const [id = "", exp = "", flag = "", signature = "", who] =
      parts.length === 5 ? [parts[0], parts[1], parts[2], parts[4], parts[3]] : parts;
    const expiresAt = Number(exp) * 1000;
    if (!/^[\w-]{22}$/.test(id) || !(expiresAt > this.#now()) || (flag !== "0" && flag !== "1"))
      return undefined;
    const signed = who === undefined ? `v1.${id}.${exp}.${flag}` : `v2.${id}.${exp}.${flag}.${who}`;
    const key = this.#keys().find((k) => safeEqual(mac(k, signed), signature));
    // Only a genuine cookie costs a look-up in the store.
    if (!key || (await this.#revocations.isSessionRevoked(id))) return undefined;
    let identity: Identity | undefined;
    try {
      identity =
        who === undefined
          ? undefined
          : (JSON.parse(Buffer.from(who, "base64url").toString("utf8")) as Identity);
    } catch {
      return undefined;
    }
    return this.#session(key, id, Number(exp), flag === "1", identity);
  }

  /** A new session (anonymous ones carry the CSRF token of the login form; logged-in ones, who logged in). */
  create(authenticated: boolean, identity?: Identity): Session {
    const [key] = this.#keys();
    if (!key) throw new Error("no key to sign dashboard sessions with");
    const exp = Math.floor((this.#now() + this.#ttlMs) / 1000);
    return this.#session(key, b64(randomBytes(16)), exp, authenticated, identity);
  }

  /** Ends a session (logout, or a login that replaces it): its cookie is refused from now on. */
  async revoke(session: Session): Promise<void> {
    await this.#revocations.revokeSession(session.id, session.expiresAt);
  }

  #session(key: Buffer, id: string, exp: number, authenticated: boolean, identity?: Identity): Session {
    const flag = authenticated ? "1" : "0";
    const who = identity ? Buffer.from(JSON.stringify(identity)).toString("base64url") : undefined;
    return {
      id,
      csrf: mac(key, `csrf.${id}`),
      authenticated,
      expiresAt: exp * 1000,
      ...(identity ? { identity } : {}),
      cookie:
        who === undefined
          ? `${id}.${exp}.${flag}.${mac(key, `v1.${id}.${exp}.${flag}`)}`
          : `${id}.${exp}.${flag}.${who}.${mac(key, `v2.${id}.${exp}.${flag}.${who}`)}`,
    };
  }
}

/** How the handler signs and ends dashboard sessions. */
export interface DashboardSessionOptions {
  /**
   * The key that signs session cookies; replicas behind one address share it.
   * @default - a key derived from each of the handler's `tokens` (the first signs): replicas with the same tokens accept each other's sessions, and removing a token ends the sessions made under it
   */
  readonly secret?: SecretSource;
  /** How long a session lasts from its login, in milliseconds. @default 28800000 (8 hours) */
  readonly ttlMs?: number;
  /**
   * Where logouts are kept until the sessions they end expire: a store
   * shared by the replicas makes a logout on one refused by all, and outlive a
   * restart (`driftless serve` passes its store).
   * @default - in this process's memory
   */
  readonly revocations?: SessionRevocations;
}

/** A signing key derived from a secret for this one purpose (the secret itself never signs). */
export function sessionKey(secret: string): Buffer {
  return createHmac("sha256", secret).update("driftless dashboard sessions v1").digest();
}

/**
 * The keys sessions are signed with: from `secret`, else derived from each
 * token; with neither readable, one random key for this process (nobody can
 * log in then, but the login form still works).
 */
export function sessionKeys(
  tokens: readonly SecretSource[],
  secret: SecretSource | undefined,
  log?: Logger,
): () => Buffer[] {
  const fallback = randomBytes(32);
  return () => {
    const keys: Buffer[] = [];
    for (const source of secret ? [secret] : tokens) {
      try {
        keys.push(sessionKey(readSecret(source, secret ? "sessions.secret" : "token")));
      } catch (error) {
        log?.error((error as Error).message);
      }
    }
    return keys.length > 0 ? keys : [fallback];
  };
}

/** Whether the form's CSRF token is the session's. */
export function csrfValid(session: Session | undefined, given: string | undefined): boolean {
  return session !== undefined && given !== undefined && safeEqual(session.csrf, given);
}

/** The request's cookies by name (the first of repeated names). */
export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header(req, "cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Whether the request came over TLS to this process. */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/** The `Set-Cookie` value for a session (or clearing it when `undefined`); it expires with the session. */
export function sessionCookie(
  req: IncomingMessage,
  path: string,
  session: Session | undefined,
  now = Date.now(),
): string {
  const attributes = [
    `${SESSION_COOKIE}=${session?.cookie ?? ""}`,
    `Path=${path}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(overTls(req) ? ["Secure"] : []),
    `Max-Age=${session ? Math.max(0, Math.floor((session.expiresAt - now) / 1000)) : 0}`,
  ];
  return attributes.join("; ");
}
