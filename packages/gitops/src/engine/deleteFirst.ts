/**
 * Making the engine replace resources of some types old one first, without
 * touching the program: a copy of the stack's settings whose
 * `pulumi:autonaming` names those types `verbatim`. The engine deletes a
 * resource before creating its replacement when its autonaming leaves no room
 * for a second name; the provider keeps the names of existing objects (their
 * fixed names, or the generated names they already have). Used only for a
 * plan a person approved past the same-name gate.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { yamlPackage } from "../util.js";

/** The settings file of `stack` in `workDir` (`Pulumi.<stack>.yaml`, the last part of a qualified name). */
export function stackSettingsFile(workDir: string, stack: string): string {
  return join(workDir, `Pulumi.${stack.split("/").at(-1)}.yaml`);
}

/**
 * The stack's settings (`settingsFile`, which may not exist) with resources
 * of `types` named verbatim, as YAML. Autonaming the settings already hold
 * for other types and providers stays.
 */
export function deleteFirstSettings(settings: string | undefined, types: readonly string[]): string {
  // An empty file has no map to add to: start from an empty one.
  const doc = yamlPackage().parseDocument(settings?.trim() ? settings : "{}");
  if (doc.errors.length > 0) throw doc.errors[0];
  for (const type of types) {
    const provider = type.split(":")[0] ?? type;
    doc.setIn(["config", "pulumi:autonaming", "providers", provider, "resources", type], {
      mode: "verbatim",
    });
  }
  return doc.toString();
}

/**
 * Runs `operation` with a config file (`--config-file`) that makes the
 * engine replace resources of `types` delete-before-replace; without types it
 * runs with none. The file lives in a temporary directory removed afterwards.
 */
export async function withDeleteFirst<T>(
  settingsFile: string,
  types: readonly string[] | undefined,
  operation: (configFile: string | undefined) => Promise<T>,
): Promise<T> {
  if (!types?.length) return operation(undefined);
  const current = await readFile(settingsFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const dir = await mkdtemp(join(tmpdir(), "driftless-delete-first-"));
  try {
    const file = join(dir, "Pulumi.stack.yaml");
    await writeFile(file, deleteFirstSettings(current, types), { mode: 0o600 });
    return await operation(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
