/**
 * The `file://` backend on disk: where it lives, and the lock files a killed
 * engine left behind.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import type { StackRequest } from "./engine.js";
import { isAlive } from "./process.js";

export function fileBackendDir(backend: string): string | undefined {
  return backend.startsWith("file://")
    ? fileURLToPath(backend.replace(/^file:\/\/(?!\/)/, "file:///"))
    : undefined;
}

export function projectName(request: StackRequest): string | undefined {
  if (request.program) return request.projectName ?? "inline";
  for (const file of ["Pulumi.yaml", "Pulumi.yml"]) {
    const path = join(request.workDir, file);
    if (existsSync(path)) return (parseYaml(readFileSync(path, "utf8")) as { name?: string } | null)?.name;
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
