/**
 * The state of a sign-in between leaving for the provider and coming back:
 * `state`, `nonce` and the PKCE verifier, sealed (AES-256-GCM: encrypted, so
 * the verifier stays secret, and authenticated, so nothing in it can be
 * changed) in a cookie that lives 10 minutes. No server holds it, so the
 * callback may reach any replica that shares the session keys.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/** What one sign-in must find again at its callback. */
export interface SignInState {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  /** The redirect URI sent to the provider; the code exchange must send the same. */
  readonly redirectUri: string;
  /** Seconds since the epoch after which the sign-in is refused. */
  readonly expires: number;
}

/** The cookie's name. */
export const SIGN_IN_COOKIE = "driftless_signin";

/** How long a sign-in may take at the provider (typing a password, a second factor). */
export const SIGN_IN_TTL_S = 600;

const keyOf = (sessionKey: Buffer) =>
  createHmac("sha256", sessionKey).update("driftless oidc sign-in v1").digest();

/** Seals a sign-in's state with the first key. */
export function sealSignIn(state: SignInState, keys: readonly Buffer[]): string {
  const [key] = keys;
  if (!key) throw new Error("no key to seal the sign-in with");
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(key), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(state), "utf8"), cipher.final()]);
  return [iv, body, cipher.getAuthTag()].map((b) => b.toString("base64url")).join(".");
}

/** Opens a sealed sign-in with any key; `undefined` when it is not genuine, malformed or expired. */
export function openSignIn(
  value: string | undefined,
  keys: readonly Buffer[],
  now = Date.now(),
): SignInState | undefined {
  const parts = value?.split(".") ?? [];
  if (parts.length !== 3) return undefined;
  const [iv, body, tag] = parts.map((p) => Buffer.from(p, "base64url")) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) return undefined;
  for (const key of keys) {
    try {
      const decipher = createDecipheriv("aes-256-gcm", keyOf(key), iv);
      decipher.setAuthTag(tag);
      const state = JSON.parse(
        Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8"),
      ) as SignInState;
      return state.expires * 1000 > now ? state : undefined;
    } catch {
      // Another key, or not genuine.
    }
  }
  return undefined;
}
