/**
 * What single sign-on through OpenID Connect needs to know (`auth.oidc` in
 * `driftless.yaml`, the `oidc` option of `createHandler`), and its validation:
 * one schema serves the file and the library, so both word problems alike.
 */
import { z } from "zod";
import { SpecError } from "../errors.js";
import { schemaKeys, specIssues } from "./specIssues.js";

/** The dashboard's sign-in through an OpenID Connect provider (authorization code flow with PKCE). */
export interface OidcOptions {
  /**
   * The provider's issuer identifier; its discovery document is read from
   * `<issuer>/.well-known/openid-configuration` at the first sign-in.
   * `https://`, or `http://` on a loopback address only.
   */
  readonly issuer: string;
  /** The client id the provider gave the dashboard's application. */
  readonly clientId: string;
  /** The client secret (`{ env }` or `{ file }`; a plain string only when embedding). Read at each sign-in. */
  readonly clientSecret: string | { readonly env: string } | { readonly file: string };
  /**
   * Scopes to ask for; `openid` is always asked for.
   * @default ["openid", "profile", "email", "groups"]
   */
  readonly scopes?: readonly string[];
  /** The ID token claim that lists the user's groups (a list of strings, or one string). @default "groups" */
  readonly groupsClaim?: string;
  /**
   * The callback URL registered at the provider (`https://driftless.example.com/ui/auth/callback`).
   * Set it behind a proxy that terminates TLS or rewrites the host.
   * @default - from the request: its `Host` header, `https` when it came over TLS, and the dashboard's path
   */
  readonly redirectUrl?: string;
  /** What the login page's button names ("Sign in with …"). @default - the issuer's host */
  readonly name?: string;
  /**
   * How long one request to the provider (discovery, keys, code exchange) may take.
   * @default 10000
   */
  readonly timeoutMs?: number;
}

/** Scopes asked for when `scopes` is unset. */
export const DEFAULT_OIDC_SCOPES = ["openid", "profile", "email", "groups"] as const;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** Whether a URL may be used: https, or http to this machine (a provider in a test, a tunnel). */
export function secureOrLoopback(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.test(url.hostname));
  } catch {
    return false;
  }
}

const secretRef = z.union(
  [
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
    }),
    z.strictObject({ file: z.string().min(1, "must be a file path") }),
  ],
  { error: "must be { env: NAME } or { file: path }; secrets are never written into the config" },
);
const secureUrl = (example: string) =>
  z
    .string({ error: `must be a URL such as ${example}` })
    .refine(
      secureOrLoopback,
      `must be an https:// URL (http:// only on a loopback address) such as ${example}`,
    );

/** `auth.oidc` of the config file: the client secret only by reference. */
export const oidcSchema = z.strictObject({
  issuer: secureUrl("https://login.example.com/realms/platform"),
  clientId: z.string({ error: "must be the client id the provider issued" }).min(1, "must not be empty"),
  clientSecret: secretRef,
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "must be a scope name without spaces or quotes"), {
      error: "must be a list of scope names",
    })
    .optional(),
  groupsClaim: z.string({ error: "must be a claim name" }).min(1, "must not be empty").optional(),
  redirectUrl: secureUrl("https://driftless.example.com/ui/auth/callback").optional(),
  name: z
    .string({ error: "must be a name" })
    .min(1, "must not be empty")
    .max(64, "must be 64 characters at most")
    .optional(),
  timeoutMs: z.number().int("must be a whole number").min(100, "must be at least 100").optional(),
});

/** The same, for the library, where the secret may also be given as a string. */
const oidcOptionsSchema = oidcSchema.extend({
  clientSecret: z.union([z.string().min(1, "must not be empty"), secretRef], {
    error: 'must be a string, { env: "NAME" } or { file: "/path" }',
  }),
});

/**
 * Checks the `oidc` option of `createHandler`.
 * @throws SpecError naming each field and the value given (never the client secret's).
 */
export function checkOidcOptions(options: unknown, prefix = "oidc"): OidcOptions {
  const parsed = oidcOptionsSchema.safeParse(options);
  if (parsed.success) return options as OidcOptions;
  const issues = specIssues(parsed.error, options, [prefix], schemaKeys(oidcOptionsSchema)).map((issue) =>
    // The secret's value is never echoed, even a wrong one.
    issue.path === `${prefix}.clientSecret`
      ? { ...issue, message: issue.message.replace(/, got .*$/, "") }
      : issue,
  );
  throw new SpecError("handler options", issues);
}
