// The master password of a Database: the derivation from a seed, the check of
// a given one, and which of the three sources (given, derived, RDS-managed) applies.
import { createHmac } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import type { Validator } from "../internal/validator.js";

/**
 * Derives a database password: 32 URL-safe characters of
 * HMAC-SHA256(seed, "driftless/database-password/<project>/<stack>/<name>/v<version>").
 */
export function derivePassword(
  seed: string,
  project: string,
  stack: string,
  name: string,
  version: number,
): string {
  return createHmac("sha256", seed)
    .update(`driftless/database-password/${project}/${stack}/${name}/v${version}`)
    .digest("base64url")
    .slice(0, 32);
}

/** Checks a given password; the error shows `<secret>`, never the value. */
export function validatePassword(v: Validator, password: pulumi.Input<string> | undefined): void {
  if (isKnown(password) && password !== undefined) {
    v.check(
      password.length >= 8 && password.length <= 128 && !/[/@" ]/.test(password),
      "password",
      'must be 8-128 characters without `/`, `@`, `"` or spaces',
      "<secret>",
    );
  }
}

/**
 * The password of database `name`, always a secret: the given one, else one
 * derived from `seed`, else none (RDS manages it).
 */
export function resolvePassword(
  name: string,
  given: pulumi.Input<string> | undefined,
  seed: pulumi.Input<string> | undefined,
  passwordVersion: number,
): { readonly source: "given" | "derived" | "rdsManaged"; readonly password?: pulumi.Output<string> } {
  if (given !== undefined) return { source: "given", password: pulumi.secret(given) };
  if (seed !== undefined) {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const password = pulumi.secret(
      pulumi.output(seed).apply((s) => derivePassword(s, project, stack, name, passwordVersion)),
    );
    return { source: "derived", password };
  }
  return { source: "rdsManaged" };
}
