/**
 * The ID token of a sign-in: its signature checked against the provider's
 * published keys (JWKS), its issuer, audience, expiry and nonce, and the
 * identity it names. openid-client checks the protocol around it (state,
 * PKCE, the code exchange); this is the one place a token is trusted, so it
 * is checked here again on its own, and tested with forged and expired tokens.
 */
import type { JWTPayload, JWTVerifyGetKey } from "jose";
import type { Identity } from "../identity.js";

/** A sign-in was refused; `message` says why in words a person can act on, and names no secret. */
export class SignInError extends Error {
  /** The HTTP status the dashboard answers with: 401 for refused credentials, 502/504 for a provider that failed. */
  readonly status: number;
  constructor(message: string, status = 401, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignInError";
    this.status = status;
  }
}

/** What an ID token must match. */
export interface IdTokenExpectations {
  /** The provider's issuer identifier, exactly as its discovery document states it. */
  readonly issuer: string;
  /** This client's id: the token's audience. */
  readonly clientId: string;
  /** The nonce this sign-in sent. */
  readonly nonce: string;
  /** The provider's signing keys (a remote JWKS in service, a local one in tests). */
  readonly keys: JWTVerifyGetKey;
  /** Signature algorithms accepted. @default ["RS256", "ES256", "PS256", "EdDSA", "RS384", "RS512", "ES384", "ES512"] */
  readonly algorithms?: readonly string[];
  /** The time to check expiry against. @default - now */
  readonly now?: Date;
}

const ASYMMETRIC = ["RS256", "ES256", "PS256", "EdDSA", "RS384", "RS512", "ES384", "ES512", "PS384", "PS512"];
/** Clock skew tolerated between the provider and this host. */
const CLOCK_TOLERANCE_S = 30;

/**
 * Verifies an ID token and returns its claims. Only asymmetric signatures are
 * accepted: an HMAC keyed with the client secret would let anyone holding the
 * secret (every replica's config) mint identities.
 * @throws SignInError saying which check failed.
 */
export async function verifyIdToken(idToken: string, expect: IdTokenExpectations): Promise<JWTPayload> {
  const jose = await import("jose");
  let payload: JWTPayload;
  try {
    ({ payload } = await jose.jwtVerify(idToken, expect.keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms: [...(expect.algorithms ?? ASYMMETRIC)].filter((a) => ASYMMETRIC.includes(a)),
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ["sub", "exp", "iat"],
      ...(expect.now ? { currentDate: expect.now } : {}),
    }));
  } catch (error) {
    throw new SignInError(idTokenProblem(error, idToken, expect), 401, { cause: error });
  }
  if (payload.nonce !== expect.nonce) {
    throw new SignInError(
      "The ID token's nonce is not the one this sign-in sent (a token from another sign-in, or replayed); sign in again.",
    );
  }
  // Several audiences: the one meant to use it must be us (OpenID Connect Core 3.1.3.7).
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== expect.clientId) {
    throw new SignInError(
      `The ID token was issued to ${JSON.stringify(payload.azp)}, not to this dashboard's client.`,
    );
  }
  return payload;
}

/** Why jose refused a token, as a sentence. */
function idTokenProblem(error: unknown, idToken: string, expect: IdTokenExpectations): string {
  const code = (error as { code?: string }).code;
  const claims = unverifiedClaims(idToken);
  switch (code) {
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "The ID token's signature does not match any key the identity provider publishes (a forged or altered token).";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "The ID token is signed with an algorithm that is not accepted (only public-key signatures are).";
    case "ERR_JWT_EXPIRED":
      return `The ID token expired${typeof claims.exp === "number" ? ` at ${new Date(claims.exp * 1000).toISOString()}` : ""}; sign in again.`;
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (error as { claim?: string }).claim;
      if (claim === "iss")
        return `The ID token was issued by ${JSON.stringify(claims.iss)}, not by the configured issuer ${JSON.stringify(expect.issuer)}.`;
      if (claim === "aud")
        return `The ID token is meant for ${JSON.stringify(claims.aud)}, not for this dashboard's client ${JSON.stringify(expect.clientId)}.`;
      if (claim === "iat" || claim === "nbf")
        return `The ID token is not valid yet (its "${claim}" lies in the future).`;
      return `The ID token lacks the "${claim}" claim it must carry.`;
    }
    case "ERR_JWKS_TIMEOUT":
      return "The identity provider's signing keys could not be fetched in time; try again.";
    default:
      return `The ID token could not be verified: ${(error as Error).message}.`;
  }
}

/** The claims of a token without checking it: only to word an error about it. */
function unverifiedClaims(idToken: string): JWTPayload {
  try {
    return JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8")) as JWTPayload;
  } catch {
    return {};
  }
}

/**
 * The identity an ID token names: its subject (under the issuer), email,
 * preferred name and groups. A groups claim that is neither a list of
 * strings nor one string is refused rather than read as "no groups".
 */
export function identityFromClaims(claims: JWTPayload, issuer: string, groupsClaim = "groups"): Identity {
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const sub = text(claims.sub);
  if (!sub) throw new SignInError('The ID token names no subject ("sub").');
  const raw = claims[groupsClaim];
  let groups: string[];
  if (raw === undefined) groups = [];
  else if (typeof raw === "string") groups = [raw];
  else if (Array.isArray(raw) && raw.every((g) => typeof g === "string"))
    groups = [...new Set(raw as string[])];
  else
    throw new SignInError(
      `The ID token's "${groupsClaim}" claim (auth.oidc.groupsClaim) must be a list of group names, got ${JSON.stringify(raw).slice(0, 80)}.`,
    );
  const email = text(claims.email);
  return {
    id: `oidc:${issuer}#${sub}`,
    kind: "user",
    name: text(claims.preferred_username) ?? text(claims.name) ?? email ?? sub,
    ...(email ? { email } : {}),
    // Policy bindings may name a user by subject.
    subject: sub,
    groups,
    roles: [],
  };
}
