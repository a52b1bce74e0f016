import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetSpec } from "@driftless/gitops";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));

/** The workspace's node_modules, so programs checked out from test repos find @pulumi/pulumi. */
export const TEST_NODE_PATH = fileURLToPath(new URL("../node_modules/", import.meta.url));

/**
 * A directory inside `parent` (a test's sandbox, removed with it) holding the
 * site program fixture plus its dynamic provider, ready to seed a repo.
 */
export function siteProgramSeed(parent: string): string {
  const dir = mkdtempSync(join(parent, "seed-"));
  cpSync(join(fixtures, "site-program"), dir, { recursive: true });
  copyFileSync(join(fixtures, "localFile.cjs"), join(dir, "localFile.cjs"));
  return dir;
}

/**
 * A directory inside `parent` (a test's sandbox) holding the replica program
 * fixture plus the slow journalling provider, ready to seed a repo.
 */
export function replicaProgramSeed(parent: string): string {
  const dir = mkdtempSync(join(parent, "seed-"));
  cpSync(join(fixtures, "replica-program"), dir, { recursive: true });
  copyFileSync(join(fixtures, "slow-program", "slowFile.cjs"), join(dir, "slowFile.cjs"));
  return dir;
}

/**
 * A directory inside `parent` holding the site program once per app, under `apps/<name>`,
 * each with the pages given for it (its `site.json`; the fixture's where none are given).
 * The apps in `sections` put their pages under a component (`demo:site:Section` "pages"),
 * so their resources form a tree: stack → section → pages.
 */
export function siteAppsSeed(
  parent: string,
  apps: Record<string, Record<string, string> | undefined>,
  sections: readonly string[] = [],
): string {
  const seed = mkdtempSync(join(parent, "apps-seed-"));
  for (const [app, pages] of Object.entries(apps)) {
    const dir = join(seed, "apps", app);
    cpSync(siteProgramSeed(parent), dir, { recursive: true });
    if (pages) writeFileSync(join(dir, "site.json"), JSON.stringify(pages));
    if (sections.includes(app)) groupUnderSection(join(dir, "index.js"));
  }
  return seed;
}

function groupUnderSection(program: string): void {
  const grouped = readFileSync(program, "utf8")
    .replace(
      "const files = {};",
      'const section = new pulumi.ComponentResource("demo:site:Section", "pages");\nconst files = {};',
    )
    .replace("}).path;", "}, { parent: section }).path;");
  if (!grouped.includes("{ parent: section }"))
    throw new Error(`${program}: no pages to put under a section`);
  writeFileSync(program, grouped);
}

/** Where a test keeps its site apps: the repository, the output directory and the engine's environment. */
export interface SiteApps {
  readonly repo: string;
  readonly outDir: string;
  readonly env: Record<string, string>;
  readonly passphrase: string;
}

/**
 * A target running the site program at `apps/<name>` of a {@link siteAppsSeed} repository,
 * writing to `<outDir>/<name>`, checked hourly, without refresh.
 */
export function siteAppTarget(name: string, apps: SiteApps, overrides: Partial<TargetSpec> = {}): TargetSpec {
  return {
    name,
    repo: apps.repo,
    ref: "main",
    path: `apps/${name}`,
    stack: name,
    passphrase: apps.passphrase,
    config: { outDir: join(apps.outDir, name) },
    env: { ...apps.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    refresh: false,
    ...overrides,
  };
}
