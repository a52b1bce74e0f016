import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Node's compile cache for the engine's Node processes (the language host's
 * program, Pulumi's dynamic providers), shared by every test and kept between
 * runs: each of them loads `@pulumi/pulumi` again, and compiling it is about a
 * third of the CPU that takes. Only compiled code is kept (keyed by the source
 * and Node's version), so a test behaves as without it. The e2e workers and the
 * processes they start use it too (compileCache.ts).
 */
export const NODE_COMPILE_CACHE = fileURLToPath(
  new URL("../../.toolchain/node-compile-cache/", import.meta.url),
);

/**
 * A throwaway engine sandbox: its own PULUMI_HOME and `file://` backend in a
 * temp dir, a passphrase for secrets, and the offline switches. Tests never
 * touch the user's ~/.pulumi.
 */
export interface EngineSandbox {
  readonly dir: string;
  readonly backendUrl: string;
  readonly env: Record<string, string>;
  dispose(): void;
}

export const TEST_PASSPHRASE = "correct horse battery staple";

export function engineSandbox(prefix = "driftless-e2e-"): EngineSandbox {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env = {
    PULUMI_HOME: join(dir, "pulumi-home"),
    PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    NODE_COMPILE_CACHE,
  };
  return {
    dir,
    backendUrl: `file://${join(dir, "state")}`,
    env,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
