/**
 * The `file://` backend on disk: where it lives, the lock files a killed
 * engine left behind, and the stack's checkpoint read without the CLI.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { yamlPackage } from "../util.js";
import { isAlive } from "./process.js";
import type { StackRequest } from "./types.js";

export function fileBackendDir(backend: string): string | undefined {
  return backend.startsWith("file://")
    ? fileURLToPath(backend.replace(/^file:\/\/(?!\/)/, "file:///"))
    : undefined;
}

export function projectName(request: StackRequest): string | undefined {
  if (request.program) return request.projectName ?? "inline";
  for (const file of ["Pulumi.yaml", "Pulumi.yml"]) {
    const path = join(request.workDir, file);
    if (existsSync(path))
      return (yamlPackage().parse(readFileSync(path, "utf8")) as { name?: string } | null)?.name;
  }
  return undefined;
}

/**
 * Removes lock files of a `file://` backend whose owner process is gone.
 * A lock written on this host by a pid that no longer runs cannot be held
 * by anyone; a lock from another host or a live process is left alone.
 */
export function clearStaleLocks(request: StackRequest): string[] {
  const backendDir = fileBackendDir(request.backend);
  const project = projectName(request);
  if (!backendDir || !project) return [];
  const stackName = request.stack.split("/").at(-1) as string;
  const root = join(backendDir, ".pulumi", "locks");
  const actions: string[] = [];
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        visit(path);
        continue;
      }
      if (!path.endsWith(".json") || !dir.endsWith(join(project, stackName))) continue;
      const lock = JSON.parse(readFileSync(path, "utf8")) as { pid?: number; hostname?: string };
      if (lock.hostname === hostname() && typeof lock.pid === "number" && !isAlive(lock.pid)) {
        rmSync(path);
        actions.push(`removed a stale lock on ${project}/${stackName} left by process ${lock.pid}`);
      }
    }
  };
  visit(root);
  return actions;
}

/** The part of a stack's state a state digest reads (`pulumi stack export`'s `deployment`). */
export interface Deployment {
  resources?: Record<string, unknown>[];
  pending_operations?: unknown[];
  /** The secrets provider and its state (a passphrase's salt). */
  secrets_providers?: { type?: string; state?: Record<string, unknown> };
}

/**
 * The stack's current deployment, read from a `file://` backend's checkpoint
 * (`.pulumi/stacks/<project>/<stack>.json`, gzipped or not, or the older
 * layout without the project) as `pulumi stack export` would return it,
 * without starting the CLI. `undefined` for other backends or when the file
 * cannot be read, so the caller asks the CLI.
 */
export function readCheckpoint(request: StackRequest): Deployment | undefined {
  const backendDir = fileBackendDir(request.backend);
  const project = projectName(request);
  if (!backendDir || !project) return undefined;
  const stackName = request.stack.split("/").at(-1) as string;
  const stacks = join(backendDir, ".pulumi", "stacks");
  for (const base of [join(stacks, project, stackName), join(stacks, stackName)]) {
    for (const [file, gzipped] of [
      [`${base}.json`, false],
      [`${base}.json.gz`, true],
    ] as const) {
      if (!existsSync(file)) continue;
      try {
        const bytes = readFileSync(file);
        const text = (gzipped ? gunzipSync(bytes) : bytes).toString("utf8");
        const checkpoint = (JSON.parse(text) as { checkpoint?: { latest?: Deployment } }).checkpoint;
        return checkpoint ? (checkpoint.latest ?? {}) : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
