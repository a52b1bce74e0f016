// Webhook signature checks (GitHub HMAC, generic HMAC, GitLab token), in constant time.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * Checks GitHub's `X-Hub-Signature-256` (`sha256=<hex HMAC of the body>`) in
 * constant time. A missing or empty part is a mismatch, never an exception.
 */
export async function verifyGithubSignature(
  secret: string,
  body: string,
  signature: string | undefined,
): Promise<boolean> {
  if (!secret || !body || !signature) return false;
  try {
    // Loaded at the first signed webhook rather than with the package.
    const { verify } = await import("@octokit/webhooks-methods");
    return await verify(secret, body, signature);
  } catch {
    return false;
  }
}

/**
 * Checks an `X-Signature: sha256=<hex HMAC of the body>` header (the generic
 * webhook). The format is GitHub's, so one verifier serves both.
 */
export const verifyGenericSignature = verifyGithubSignature;

/**
 * Compares two secrets in constant time. Both sides are hashed first so their
 * lengths are equal and the comparison leaks neither content nor length.
 */
export function safeEqual(expected: string, given: string | undefined): boolean {
  if (!expected || given === undefined) return false;
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/** Signs a body the way GitHub and the generic webhook expect; for senders and tests. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
