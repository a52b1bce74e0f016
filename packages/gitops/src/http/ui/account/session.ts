/**
 * Dashboard sessions, held by no server: a bearer token given at the login
 * form, or a sign-in through OpenID Connect, is exchanged for a signed cookie
 * (HttpOnly, SameSite=Strict, Secure under TLS) that names a random session
 * id, when it expires and who signed in (their {@link Identity}: id, name,
 * email, subject, groups, roles), with an HMAC over all of it. Every process with the same key
 * accepts it, so sessions survive a restart and work across replicas. The
 * CSRF token every POST must carry is an HMAC of the session id: bound to the
 * session, stored nowhere. Logout clears the cookie and revokes the id until
 * it would have expired (in the store when one is given, so every replica
 * sharing it agrees; else in this process), so a copy of the cookie is
 * refused too. The API token itself is never
 * stored, and no key is derivable from a cookie. A session made with a
 * personal token ends with that token: ./requestSession.ts checks it on every
 * request, once.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { readSecret } from "../../../spec/secrets.js";
import type { SecretSource } from "../../../spec/spec.js";
import type { SessionRevocations } from "../../../store/store.js";
import type { Identity } from "../../auth/identity.js";
import { header } from "../../router.js";
import { safeEqual } from "../../signatures.js";

/** One browser's session; `authenticated` (and `identity` set) once someone signed in. */
export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly authenticated: boolean;
  /** Who signed in; `undefined` for the anonymous session that carries the login form's CSRF token. */
  readonly identity?: Identity;
  /** The provider's ID token of an OpenID Connect sign-in, when it fit in the cookie (for `id_token_hint` at logout). */
  readonly idToken?: string;
  /** Milliseconds since the epoch after which the cookie is refused. */
  readonly expiresAt: number;
  /** The cookie's value. */
  readonly cookie: string;
  /**
   * Of a session made with a configured API token: whether `secret` is the
   * token it was made with (the cookie carries an HMAC of it under the key
   * that signed the cookie, never the token). Absent for other sessions, and
   * for a token's session made before sessions were bound to their token.
   */
  readonly madeWith?: (secret: string) => boolean;
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
    if (parts.length !== 4) return undefined;
    const [id = "", exp = "", who = "", signature = ""] = parts;
    const expiresAt = Number(exp) * 1000;
    if (!/^[\w-]{22}$/.test(id) || !(expiresAt > this.#now()) || !/^[\w-]+$/.test(who)) return undefined;
    const key = this.#keys().find((k) => safeEqual(mac(k, `v2.${id}.${exp}.${who}`), signature));
    // Only a genuine cookie costs a look-up in the store.
    if (!key || (await this.#revocations.isSessionRevoked(id))) return undefined;
    const signedIn = who === ANONYMOUS ? undefined : decodeWho(who);
    if (who !== ANONYMOUS && !signedIn) return undefined;
    return this.#session(key, id, Number(exp), who, signedIn);
  }

  /**
   * A new session: anonymous (`undefined`, it carries the CSRF token of the
   * login form) or of someone who signed in. The ID token rides along only
   * while the cookie stays small. `credential`, the API token someone signed
   * in with, binds the session to it (see {@link Session.madeWith}).
   * @throws SessionTooLargeError when the identity alone does not fit in a cookie (thousands of groups).
   */
  create(identity: Identity | undefined, idToken?: string, credential?: string): Session {
    const [key] = this.#keys();
    if (!key) throw new Error("no key to sign dashboard sessions with");
    const exp = Math.floor((this.#now() + this.#ttlMs) / 1000);
    let who = ANONYMOUS;
    if (identity) {
      const bound = credential === undefined ? undefined : credentialMac(key, credential);
      who = encodeWho(identity, bound, idToken);
      if (who.length > MAX_WHO) who = encodeWho(identity, bound);
      if (who.length > MAX_WHO) throw new SessionTooLargeError(identity);
    }
    return this.#session(key, b64(randomBytes(16)), exp, who, who === ANONYMOUS ? undefined : decodeWho(who));
  }

  /** Ends a session (logout, or a login that replaces it): its cookie is refused from now on. */
  async revoke(session: Session): Promise<void> {
    await this.#revocations.revokeSession(session.id, session.expiresAt);
  }

  #session(
    key: Buffer,
    id: string,
    exp: number,
    who: string,
    signedIn: { identity: Identity; idToken?: string; credential?: string } | undefined,
  ): Session {
    const bound = signedIn?.credential;
    return {
      id,
      csrf: mac(key, `csrf.${id}`),
      authenticated: signedIn !== undefined,
      ...(signedIn ? { identity: signedIn.identity } : {}),
      ...(signedIn?.idToken ? { idToken: signedIn.idToken } : {}),
      expiresAt: exp * 1000,
      cookie: `${id}.${exp}.${who}.${mac(key, `v2.${id}.${exp}.${who}`)}`,
      ...(bound ? { madeWith: (secret: string) => safeEqual(credentialMac(key, secret), bound) } : {}),
    };
  }
}

/** The cookie's identity part of an anonymous session. */
const ANONYMOUS = "0";
/** Browsers keep cookies up to 4096 bytes with name and attributes; the identity part stays well below. */
const MAX_WHO = 3400;

/** Someone's identity would not fit in a session cookie. */
export class SessionTooLargeError extends Error {
  constructor(identity: Identity) {
    super(
      `The identity of ${identity.name} (${identity.groups.length} groups) is too large for a session cookie; ` +
        "ask for fewer groups (auth.oidc.scopes, auth.oidc.groupsClaim) or narrow them at the provider.",
    );
    this.name = "SessionTooLargeError";
  }
}

/** What a session's cookie carries of the token it was made with: an HMAC under the signing key, never the token. */
function credentialMac(key: Buffer, credential: string): string {
  return mac(key, `credential.${credential}`);
}

/** An identity (and maybe its credential's HMAC and an ID token) as the cookie's third part: compact JSON, base64url. */
function encodeWho(identity: Identity, credential?: string, idToken?: string): string {
  const compact = {
    i: identity.id,
    k: identity.kind,
    n: identity.name,
    ...(identity.email ? { e: identity.email } : {}),
    ...(identity.subject ? { s: identity.subject } : {}),
    ...(identity.groups.length > 0 ? { g: identity.groups } : {}),
    ...(identity.roles.length > 0 ? { r: identity.roles } : {}),
    ...(credential ? { c: credential } : {}),
    ...(idToken ? { t: idToken } : {}),
  };
  return Buffer.from(JSON.stringify(compact), "utf8").toString("base64url");
}

/** The cookie's third part read back (it was signed, so only its shape is checked). */
function decodeWho(who: string): { identity: Identity; idToken?: string; credential?: string } | undefined {
  try {
    const c = JSON.parse(Buffer.from(who, "base64url").toString("utf8")) as Record<string, unknown>;
    const strings = (v: unknown) =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
    if (typeof c.i !== "string" || typeof c.n !== "string") return undefined;
    if (c.k !== "token" && c.k !== "personal" && c.k !== "user") return undefined;
    const identity: Identity = {
      id: c.i,
      kind: c.k,
      name: c.n,
      ...(typeof c.e === "string" ? { email: c.e } : {}),
      ...(typeof c.s === "string" ? { subject: c.s } : {}),
      groups: strings(c.g),
      roles: strings(c.r),
    };
    return {
      identity,
      ...(typeof c.t === "string" ? { idToken: c.t } : {}),
      ...(typeof c.c === "string" ? { credential: c.c } : {}),
    };
  } catch {
    return undefined;
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
  /**
   * Told of every sign-in and sign-out, allowed or refused (the audit log
   * records them through the router either way). Awaited; a failure refuses the sign-in.
   * @default - nobody is told
   */
  readonly onSignIn?: (event: SignInEvent) => void | Promise<void>;
}

/** A sign-in or sign-out at the dashboard, as {@link DashboardSessionOptions.onSignIn} hears of it. */
export interface SignInEvent {
  readonly action: "login" | "logout";
  /** `refused` with `reason` when the credentials (or the provider's answer) were not accepted. */
  readonly outcome: "ok" | "refused";
  /** How: a token at the login form, or OpenID Connect. */
  readonly method: "token" | "oidc";
  /** Who signed in or out; absent for a refused sign-in. */
  readonly identity?: Identity;
  /** Why a sign-in was refused (never a secret). */
  readonly reason?: string;
  /** The request, for its source address and request id. */
  readonly req: IncomingMessage;
}

/** A signing key derived from a secret for this one purpose (the secret itself never signs). */
export function sessionKey(secret: string): Buffer {
  return createHmac("sha256", secret).update("driftless dashboard sessions v1").digest();
}

/**
 * The keys sessions are signed with: from `secret`, else derived from each
 * token and then the OpenID Connect client secret (`others`), which replicas
 * share too; with none readable, one random key for this process (nobody can
 * log in then, but the login form still works).
 */
export function sessionKeys(
  tokens: readonly SecretSource[],
  secret: SecretSource | undefined,
  log?: Logger,
  others: readonly SecretSource[] = [],
): () => Buffer[] {
  const fallback = randomBytes(32);
  return () => {
    const keys: Buffer[] = [];
    for (const source of secret ? [secret] : [...tokens, ...others]) {
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
