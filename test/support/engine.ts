import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
  };
  return {
    dir,
    backendUrl: `file://${join(dir, "state")}`,
    env,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
