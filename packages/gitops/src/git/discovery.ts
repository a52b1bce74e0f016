// Monorepo discovery: `paths:` entries expanded into one target per project directory of a repository.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";
import { SpecError } from "../errors.js";
import type { TargetSpec } from "../spec/spec.js";
import type { Source } from "./source.js";

/**
 * A target entry that stands for one target per project directory of a
 * monorepo: `{ name: "stacks", paths: "stacks/*", … }` becomes `stacks-network`,
 * `stacks-app`, … with `path` set to each directory.
 */
export interface TargetTemplate extends Omit<TargetSpec, "path" | "program" | "projectName"> {
  /**
   * Directories to expand, relative to the repository root; `*` matches any
   * run of characters within one path segment (`stacks/*`, `envs/*\/infra`).
   * Only directories holding a `Pulumi.yaml` become targets.
   */
  readonly paths: string;
  /**
   * Paths outside the project directories whose changes concern every
   * discovered target (shared code such as `lib/`); they become each target's
   * `watchPaths`. @default []
   */
  readonly sharedPaths?: readonly string[];
}

/** Options for {@link discoverTargets}. */
export interface DiscoverOptions {
  readonly source: Source;
  /** Scratch checkouts go under `<dataDir>/discovery/`. */
  readonly dataDir: string;
}

/** Whether a value is a {@link TargetTemplate} rather than a plain target. */
export function isTemplate(value: unknown): value is TargetTemplate {
  return value !== null && typeof value === "object" && "paths" in value;
}

/** Problems with a template's own fields (`paths`, `sharedPaths`); the rest is checked per target. */
export function templateIssues(template: TargetTemplate): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const got = (v: unknown) => `got ${JSON.stringify(v)}`;
  const { paths, sharedPaths } = template as { paths: unknown; sharedPaths?: unknown };
  if (typeof paths !== "string" || !isRepoPath(paths)) {
    issues.push({
      path: "paths",
      message: `must be a directory glob inside the repository such as "stacks/*", ${got(paths)}`,
    });
  }
  if (
    sharedPaths !== undefined &&
    !(Array.isArray(sharedPaths) && sharedPaths.every((p) => typeof p === "string" && isRepoPath(p)))
  ) {
    issues.push({
      path: "sharedPaths",
      message: `must be a list of paths inside the repository such as "lib/", ${got(sharedPaths)}`,
    });
  }
  return issues;
}

function isRepoPath(path: string): boolean {
  return path.trim() !== "" && !isAbsolute(path) && !normalize(path).split(/[\\/]/).includes("..");
}

/** Turns one template into targets for the given directories (relative to the repository root). */
export function expandTemplate(template: TargetTemplate, dirs: readonly string[]): TargetSpec[] {
  const { paths, sharedPaths, ...rest } = template;
  const wild = paths.split("/").filter(Boolean);
  return [...dirs].sort().map((dir) => {
    // The name keeps the parts the wildcards matched: `envs/*/infra` + `envs/prod/infra` → `<name>-prod`.
    const parts = dir.split("/").filter((_part, i) => wild[i]?.includes("*") ?? false);
    const suffix = (parts.length > 0 ? parts : [dir.split("/").at(-1) as string])
      .join("-")
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "");
    return {
      ...rest,
      name: `${template.name}-${suffix}`,
      path: dir,
      ...(sharedPaths && sharedPaths.length > 0
        ? { watchPaths: [...(rest.watchPaths ?? []), ...sharedPaths] }
        : {}),
    };
  });
}

/** Directories under `root` matching a glob of `*`-segments that hold a Pulumi project. */
export function matchProjectDirectories(root: string, pattern: string): string[] {
  const segments = normalize(pattern)
    .split("/")
    .filter((s) => s !== "" && s !== ".");
  let candidates = [""];
  for (const segment of segments) {
    const regex = new RegExp(`^${segment.split("*").map(escapeRegex).join("[^/]*")}$`);
    candidates = candidates.flatMap((dir) => {
      const full = join(root, dir);
      if (!existsSync(full)) return [];
      return readdirSync(full, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith(".") && regex.test(e.name))
        .map((e) => (dir ? `${dir}/${e.name}` : e.name));
    });
  }
  return candidates
    .filter((dir) => ["Pulumi.yaml", "Pulumi.yml"].some((f) => existsSync(join(root, dir, f))))
    .sort();
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Expands templates against the current commit of their ref: one scratch
 * checkout per template, removed afterwards.
 * @throws SpecError when a template matches no project directory
 */
export async function discoverTargets(
  templates: readonly TargetTemplate[],
  options: DiscoverOptions,
): Promise<TargetSpec[]> {
  const targets: TargetSpec[] = [];
  for (const template of templates) {
    const source = { repo: template.repo, ref: template.ref ?? "main", auth: template.auth ?? {} };
    const revision = await options.source.resolve(source);
    const dir = join(options.dataDir, "discovery", template.name);
    try {
      await options.source.checkout(source, revision, dir);
      const dirs = matchProjectDirectories(dir, template.paths);
      if (dirs.length === 0) {
        throw new SpecError(`target "${template.name}"`, [
          {
            path: "paths",
            message: `matches no directory with a Pulumi.yaml at ${revision.slice(0, 12)}, got ${JSON.stringify(template.paths)}`,
          },
        ]);
      }
      targets.push(...expandTemplate(template, dirs));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return targets;
}
