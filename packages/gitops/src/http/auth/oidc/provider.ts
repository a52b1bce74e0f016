/**
 * One OpenID Connect provider as the dashboard uses it, through openid-client:
 * discovery (lazy, at the first sign-in, cached for an hour, bounded by a
 * timeout), the authorization request (code flow with PKCE, state, nonce),
 * the callback (state, code exchange, the ID token verified in
 * ./idToken.ts) and the end-session URL. openid-client and jose are loaded
 * at the first sign-in, so a service nobody signs in to never loads them.
 */
import type { Configuration } from "openid-client";
import { DEFAULT_OIDC_SCOPES, type OidcOptions } from "../../../spec/oidc.js";
import { readSecret } from "../../../spec/secrets.js";
import { safeEqual } from "../../signatures.js";
import type { Identity } from "../identity.js";
import { identityFromClaims, SignInError, verifyIdToken } from "./idToken.js";
import { openSignIn, SIGN_IN_TTL_S, type SignInState, sealSignIn } from "./transient.js";

/** How long a discovery document is trusted before it is read again. */
const DISCOVERY_TTL_MS = 3600_000;
const DEFAULT_TIMEOUT_MS = 10_000;

type Client = typeof import("openid-client");
interface Discovered {
  readonly client: Client;
  readonly config: Configuration;
  readonly keys: import("jose").JWTVerifyGetKey;
  readonly at: number;
}

/** A finished sign-in. */
export interface SignedIn {
  readonly identity: Identity;
  /** The raw ID token, for the provider's end-session endpoint (`id_token_hint`). */
  readonly idToken: string;
}

/** The dashboard's client of one OpenID Connect provider. */
export class OidcProvider {
  readonly #options: OidcOptions;
  readonly #now: () => number;
  #discovered: Discovered | undefined;
  #discovering: Promise<Discovered> | undefined;

  constructor(options: OidcOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /** What the login button names. */
  get name(): string {
    return this.#options.name ?? new URL(this.#options.issuer).host;
  }

  /** The client id (`client_id` of an end-session request when no ID token is kept). */
  get clientId(): string {
    return this.#options.clientId;
  }

  /** The configured callback URL, if any (else the dashboard derives it from the request). */
  get redirectUrl(): string | undefined {
    return this.#options.redirectUrl;
  }

  /**
   * Where to send the browser to sign in, and the sealed cookie value that
   * the callback needs.
   * @throws SignInError when the provider cannot be discovered.
   */
  async start(redirectUri: string, keys: readonly Buffer[]): Promise<{ url: string; cookie: string }> {
    const { client, config } = await this.#discover();
    const state: SignInState = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      redirectUri,
      expires: Math.floor(this.#now() / 1000) + SIGN_IN_TTL_S,
    };
    const scopes = new Set(["openid", ...(this.#options.scopes ?? DEFAULT_OIDC_SCOPES)]);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: [...scopes].join(" "),
      response_type: "code",
      code_challenge: await client.calculatePKCECodeChallenge(state.verifier),
      code_challenge_method: "S256",
      state: state.state,
      nonce: state.nonce,
    });
    return { url: url.href, cookie: sealSignIn(state, keys) };
  }

  /**
   * Finishes a sign-in at the callback: the sealed state must be this
   * browser's, `state` must match it, the code is exchanged with the PKCE
   * verifier, and the ID token must verify.
   * @throws SignInError saying which check failed.
   */
  async finish(
    query: URLSearchParams,
    sealed: string | undefined,
    keys: readonly Buffer[],
  ): Promise<SignedIn> {
    const started = openSignIn(sealed, keys, this.#now());
    if (!started) {
      throw new SignInError(
        `This sign-in was not started in this browser, or took longer than ${SIGN_IN_TTL_S / 60} minutes; start it again.`,
        400,
      );
    }
    const refused = query.get("error");
    if (refused) {
      const description = query.get("error_description");
      throw new SignInError(
        `The identity provider refused the sign-in: ${refused}${description ? ` (${description.slice(0, 200)})` : ""}.`,
      );
    }
    if (!safeEqual(query.get("state") ?? "", started.state)) {
      throw new SignInError(
        "The callback's state is not the one this browser's sign-in sent (a forged or stale callback); sign in again.",
        400,
      );
    }
    const { client, config, keys: jwks } = await this.#discover();
    // The redirect URI as registered, whatever host or path a proxy showed this process.
    const current = new URL(started.redirectUri);
    current.search = query.toString();
    let tokens: Awaited<ReturnType<Client["authorizationCodeGrant"]>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
        expectedNonce: started.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw exchangeError(error, this.#options.issuer);
    }
    const idToken = tokens.id_token;
    if (!idToken)
      throw new SignInError("The identity provider sent no ID token (is `openid` among the scopes?).");
    const claims = await verifyIdToken(idToken, {
      issuer: config.serverMetadata().issuer,
      clientId: this.#options.clientId,
      nonce: started.nonce,
      keys: jwks,
      ...(config.serverMetadata().id_token_signing_alg_values_supported
        ? { algorithms: config.serverMetadata().id_token_signing_alg_values_supported as string[] }
        : {}),
      now: new Date(this.#now()),
    });
    return {
      identity: identityFromClaims(claims, config.serverMetadata().issuer, this.#options.groupsClaim),
      idToken,
    };
  }

  /**
   * The provider's end-session URL for a user signing out, when its discovery
   * document offers one; `undefined` otherwise or when it cannot be read (the
   * local sign-out stands either way).
   */
  async endSessionUrl(postLogoutRedirectUri: string, idToken?: string): Promise<string | undefined> {
    let discovered: Discovered;
    try {
      discovered = await this.#discover();
    } catch {
      return undefined;
    }
    if (!discovered.config.serverMetadata().end_session_endpoint) return undefined;
    return discovered.client.buildEndSessionUrl(discovered.config, {
      post_logout_redirect_uri: postLogoutRedirectUri,
      ...(idToken ? { id_token_hint: idToken } : { client_id: this.#options.clientId }),
    }).href;
  }

  /** The discovery document and keys: cached, one request at a time, never longer than the timeout. */
  #discover(): Promise<Discovered> {
    const cached = this.#discovered;
    if (cached && this.#now() - cached.at < DISCOVERY_TTL_MS) return Promise.resolve(cached);
    this.#discovering ??= this.#load().finally(() => {
      this.#discovering = undefined;
    });
    return this.#discovering;
  }

  async #load(): Promise<Discovered> {
    const { issuer, clientId } = this.#options;
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const [client, jose] = await Promise.all([import("openid-client"), import("jose")]);
    let secret: string;
    try {
      secret = readSecret(this.#options.clientSecret, "auth.oidc.clientSecret");
    } catch (error) {
      throw new SignInError(`Sign-in is not available: ${(error as Error).message}.`, 503);
    }
    let config: Configuration;
    try {
      config = await client.discovery(new URL(issuer), clientId, secret, undefined, {
        timeout: timeoutMs / 1000,
        // Validation allows http only on a loopback address.
        ...(new URL(issuer).protocol === "http:" ? { execute: [client.allowInsecureRequests] } : {}),
      });
    } catch (error) {
      const timedOut =
        (error as Error).name === "TimeoutError" ||
        (error as { cause?: Error }).cause?.name === "TimeoutError";
      throw new SignInError(
        timedOut
          ? `The identity provider at ${issuer} did not answer within ${timeoutMs / 1000} s; try again later.`
          : `The identity provider at ${issuer} could not be reached or sent no valid discovery document (${describeCause(error)}); try again later.`,
        timedOut ? 504 : 502,
        { cause: error },
      );
    }
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri)
      throw new SignInError(`The identity provider at ${issuer} publishes no signing keys (jwks_uri).`, 502);
    const keys = jose.createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: timeoutMs });
    const discovered = { client, config, keys, at: this.#now() };
    this.#discovered = discovered;
    return discovered;
  }
}

/** A failed code exchange as a sentence: the provider's refusal, a claim that did not match, or a network failure. */
function exchangeError(error: unknown, issuer: string): SignInError {
  if (error instanceof SignInError) return error;
  const e = error as {
    code?: string;
    error?: string;
    error_description?: string;
    cause?: { claim?: string };
  };
  if (e.code === "OAUTH_RESPONSE_BODY_ERROR" && e.error) {
    return new SignInError(
      `The identity provider refused the authorization code: ${e.error}${e.error_description ? ` (${e.error_description.slice(0, 200)})` : ""}. A code works once and for minutes only; sign in again.`,
      401,
      { cause: error },
    );
  }
  // openid-client wraps oauth4webapi's error, whose cause names the claim.
  const inner = (e.cause ?? {}) as { message?: string; cause?: { claim?: string } };
  if (e.code === "OAUTH_JWT_CLAIM_COMPARISON_FAILED" && inner.cause?.claim === "nonce") {
    return new SignInError(
      "The ID token's nonce is not the one this sign-in sent (a token from another sign-in, or replayed); sign in again.",
      401,
      { cause: error },
    );
  }
  if (e.code === "OAUTH_JWT_CLAIM_COMPARISON_FAILED" || e.code === "OAUTH_JWT_TIMESTAMP_CHECK_FAILED") {
    return new SignInError(`The ID token was refused: ${inner.message ?? (error as Error).message}.`, 401, {
      cause: error,
    });
  }
  if ((error as Error).name === "TimeoutError") {
    return new SignInError(`The identity provider at ${issuer} did not answer in time; try again.`, 504, {
      cause: error,
    });
  }
  return new SignInError(
    `The code exchange with ${issuer} failed (${describeCause(error)}); sign in again.`,
    502,
    {
      cause: error,
    },
  );
}

/** An error and its cause in one short line (fetch hides the reason in `cause`). */
function describeCause(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return (detail && !message.includes(detail) ? `${message}: ${detail}` : message).slice(0, 200);
}
