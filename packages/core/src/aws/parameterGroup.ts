// The parameter group of a Database: TLS enforcement (`rds.force_ssl`) plus the
// caller's parameters, and the check of their names.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";

/** Checks the parameter names (values are the engine's to judge). */
export function validateParameters(
  v: Validator,
  parameters: Readonly<Record<string, string>> | undefined,
): void {
  for (const key of Object.keys(parameters ?? {})) {
    v.check(/^[a-z][a-z0-9_.]*$/.test(key), `parameters.${key}`, "is not a parameter name", key);
  }
}

/** Creates the parameter group of family `postgres<major of engineVersion>`. */
export function createParameterGroup(
  parent: pulumi.Resource,
  name: string,
  engineVersion: string,
  forceSsl: boolean,
  parameters: Readonly<Record<string, string>> | undefined,
  tags: Readonly<Record<string, pulumi.Input<string>>>,
): aws.rds.ParameterGroup {
  return new aws.rds.ParameterGroup(
    name,
    {
      family: `postgres${engineVersion.split(".")[0]}`,
      description: `PostgreSQL ${name}`,
      parameters: Object.entries({
        "rds.force_ssl": forceSsl ? "1" : "0",
        ...parameters,
      }).map(([paramName, value]) => ({ name: paramName, value })),
      tags,
    },
    { parent },
  );
}
