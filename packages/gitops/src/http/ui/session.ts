/**
 * Dashboard sessions: a bearer token exchanged at the login form for an
 * HttpOnly, SameSite=Strict cookie (Secure under TLS), and a CSRF token per
 * session that every POST must carry. Sessions live in memory: a restart
 * logs everyone out, and no token is stored anywhere.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { LRUCache } from "lru-cache";
import { header } from "../router.js";
import { safeEqual } from "../signatures.js";

/** One browser's session; `authenticated` once a valid token was given. */
export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly authenticated: boolean;
}

/** Cookie name of the dashboard's session. */
export const SESSION_COOKIE = "driftless_session";

const newId = () => randomBytes(32).toString("base64url");

/** Sessions by id, idle ones forgotten after `ttlMs`, at most `max` kept. */
export class Sessions {
  readonly #sessions: LRUCache<string, Session>;

  constructor(options: { readonly ttlMs?: number; readonly max?: number } = {}) {
    this.#sessions = new LRUCache({
      max: options.max ?? 10_000,
      ttl: options.ttlMs ?? 8 * 3600_000,
      updateAgeOnGet: true,
    });
  }

  /** The request's session from its cookie, if it is known. */
  get(req: IncomingMessage): Session | undefined {
    const id = cookies(req)[SESSION_COOKIE];
    return id ? this.#sessions.get(id) : undefined;
  }

  /** A new session (anonymous ones carry the CSRF token of the login form). */
  create(authenticated: boolean): Session {
    const session = { id: newId(), csrf: newId(), authenticated };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** Forgets a session (logout, or a login that replaces it). */
  delete(session: Session): void {
    this.#sessions.delete(session.id);
  }
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

/** The `Set-Cookie` value for a session (or clearing it when `undefined`). */
export function sessionCookie(req: IncomingMessage, path: string, session: Session | undefined): string {
  const attributes = [
    `${SESSION_COOKIE}=${session?.id ?? ""}`,
    `Path=${path}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(overTls(req) ? ["Secure"] : []),
    ...(session ? [] : ["Max-Age=0"]),
  ];
  return attributes.join("; ");
}
