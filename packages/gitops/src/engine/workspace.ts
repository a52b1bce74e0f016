// Preparing a checked-out program: installing its dependencies when its lockfile changed.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { StalledError } from "../errors.js";
import { sha256 } from "../util.js";
import { INSTALLER_ENV_ALLOWLIST, inheritedEnv } from "./env.js";

const run = promisify(execFile);

/** Package managers recognised by their lockfile, in the order they are looked for. */
const INSTALLERS = [
  { lockfile: "pnpm-lock.yaml", command: "pnpm", args: ["install", "--frozen-lockfile", "--prefer-offline"] },
  { lockfile: "yarn.lock", command: "yarn", args: ["install", "--frozen-lockfile"] },
  { lockfile: "package-lock.json", command: "npm", args: ["ci", "--no-audit", "--no-fund"] },
  // Without a lockfile, npm must not write one: it would change which installer the next run picks.
  {
    lockfile: "package.json",
    command: "npm",
    args: ["install", "--no-audit", "--no-fund", "--no-package-lock"],
  },
] as const;

/** What {@link prepareDependencies} did. */
export interface PrepareResult {
  /** `installed` ran the package manager; `reused` found the same lockfile installed; `none` has no package.json. */
  readonly action: "installed" | "reused" | "none";
  readonly lockfile?: string;
}

/**
 * Installs a program's dependencies with its lockfile's package manager, only
 * when the lockfile's content changed since the last install in this directory.
 * Install scripts are the repository's code: the installer gets `env` only.
 * @param options.env - @default the variables of {@link INSTALLER_ENV_ALLOWLIST}, never the whole environment
 */
export async function prepareDependencies(
  projectDir: string,
  options: { readonly env?: NodeJS.ProcessEnv; readonly signal?: AbortSignal } = {},
): Promise<PrepareResult> {
  const installer = INSTALLERS.find((i) => existsSync(join(projectDir, i.lockfile)));
  if (!installer) return { action: "none" };
  const hash = sha256(readFileSync(join(projectDir, installer.lockfile)));
  const stamp = join(projectDir, "node_modules", ".driftless-lock-hash");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === hash) {
    return { action: "reused", lockfile: installer.lockfile };
  }
  try {
    await run(installer.command, [...installer.args], {
      cwd: projectDir,
      env: options.env ?? inheritedEnv(INSTALLER_ENV_ALLOWLIST),
      signal: options.signal,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new StalledError(
      "DependenciesFailed",
      `\`${installer.command} ${installer.args.join(" ")}\` failed in ${projectDir}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
    );
  }
  mkdirSync(join(projectDir, "node_modules"), { recursive: true });
  writeFileSync(stamp, hash);
  return { action: "installed", lockfile: installer.lockfile };
}
