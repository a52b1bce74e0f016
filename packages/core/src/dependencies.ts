import * as pulumi from "@pulumi/pulumi";
import { DriftlessError } from "./errors.js";

/**
 * Config key prefix under which the Driftless reconciler passes a dependency's
 * stack outputs to the targets that list it in `dependsOn`: `deps.<target>`
 * holds all of them as one JSON object, `deps.<target>.<output>` each one.
 */
export const DEPENDENCY_CONFIG_PREFIX = "deps";

/**
 * The stack outputs a dependency passed down, typed by the caller. The
 * reconciler sets them as config for every target that lists the dependency
 * in `dependsOn` (secret outputs are never passed); values keep their JSON
 * types.
 *
 * @example
 * ```ts
 * const network = dependencyOutputs<{ vpcId: string; subnetIds: string[] }>("network", ["vpcId", "subnetIds"]);
 * ```
 * @param dependency - the dependency's target name
 * @param required - outputs that must be present; a missing one is an error naming it
 * @throws DriftlessError when no outputs were passed or a required one is missing
 */
export function dependencyOutputs<T extends object = Record<string, unknown>>(
  dependency: string,
  required: readonly (keyof T & string)[] = [],
): T {
  const key = `${DEPENDENCY_CONFIG_PREFIX}.${dependency}`;
  const raw = new pulumi.Config().get(key);
  if (raw === undefined) {
    throw new DriftlessError(
      `dependency "${dependency}" passed no outputs (config \`${key}\` is not set): list it in this target's \`dependsOn\`, and let it apply first`,
    );
  }
  let outputs: unknown;
  try {
    outputs = JSON.parse(raw);
  } catch {
    throw new DriftlessError(
      `config \`${key}\` must be a JSON object of outputs, got ${JSON.stringify(raw)}`,
    );
  }
  if (outputs === null || typeof outputs !== "object" || Array.isArray(outputs)) {
    throw new DriftlessError(`config \`${key}\` must be a JSON object of outputs, got ${raw}`);
  }
  const missing = required.filter((name) => !(name in outputs));
  if (missing.length > 0) {
    throw new DriftlessError(
      `dependency "${dependency}" has no output${missing.length === 1 ? "" : "s"} ${missing.map((m) => `"${m}"`).join(", ")} (it has: ${Object.keys(outputs).sort().join(", ") || "none"})`,
    );
  }
  return outputs as T;
}
