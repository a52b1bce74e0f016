import { copyFileSync, cpSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
