/**
 * The environment the engine, the program and the dependency installer start
 * with. A program is code from the repository (a pull request's, in a
 * preview): it must not read the reconciler's own credentials (API tokens,
 * webhook secrets, its database password, its cloud keys). So it receives a
 * minimal set of this process's variables, what its backend and secrets
 * provider need, the variables a user passes on purpose (`inheritEnv`), and
 * the target's `env` (set by the caller on top).
 */

/**
 * Variables every engine receives from this process's environment: a name, or
 * a prefix ending in `*`. `PULUMI_*` holds the engine's own settings
 * (`PULUMI_HOME`, `PULUMI_ACCESS_TOKEN` for Pulumi Cloud backends).
 */
export const ENGINE_ENV_ALLOWLIST: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "TMPDIR",
  "TMP",
  "TEMP",
  "TZ",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "all_proxy",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "XDG_CACHE_HOME",
  "XDG_CONFIG_HOME",
  "XDG_DATA_HOME",
  "PULUMI_*",
];

/** What the installers read besides the engine's set: their own configuration and caches. */
export const INSTALLER_ENV_ALLOWLIST: readonly string[] = [
  ...ENGINE_ENV_ALLOWLIST,
  "npm_config_*",
  "NPM_CONFIG_*",
  "YARN_*",
  "PNPM_HOME",
  "COREPACK_*",
];

/** Credentials a backend or secrets provider reads from the environment, by URL scheme. */
const BY_SCHEME: Readonly<Record<string, readonly string[]>> = {
  "s3:": ["AWS_*"],
  "awskms:": ["AWS_*"],
  "azblob:": ["AZURE_*"],
  "azurekeyvault:": ["AZURE_*"],
  "gs:": ["GOOGLE_*", "GCLOUD_*", "CLOUDSDK_*"],
  "gcpkms:": ["GOOGLE_*", "GCLOUD_*", "CLOUDSDK_*"],
  "hashivault:": ["VAULT_*"],
};

/** The patterns a backend URL and a secrets provider need (`s3://…` → `AWS_*`). */
export function backendEnvPatterns(...urls: readonly string[]): string[] {
  return urls.flatMap((url) => BY_SCHEME[/^[a-z][\w+.-]*:/i.exec(url)?.[0].toLowerCase() ?? ""] ?? []);
}

/** Whether a variable name matches a name or a `PREFIX*` pattern (`*` alone matches every name). */
export function matchesEnvPattern(name: string, pattern: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * The variables of `source` that match one of `patterns`.
 * @param source - @default process.env
 */
export function inheritedEnv(
  patterns: readonly string[],
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && patterns.some((p) => matchesEnvPattern(name, p))) env[name] = value;
  }
  return env;
}

/**
 * Whether the engine's refresh diffs outputs rather than inputs
 * (`PULUMI_ENABLE_LEGACY_REFRESH_DIFF`, in `env` or inherited): its refresh
 * preview would then count a label another tool added as drift, so a drift
 * check must run the program's preview instead.
 * @param source - @default process.env
 */
export function legacyRefreshDiff(
  env: Readonly<Record<string, string>>,
  source: NodeJS.ProcessEnv = process.env,
): boolean {
  const value = env.PULUMI_ENABLE_LEGACY_REFRESH_DIFF ?? source.PULUMI_ENABLE_LEGACY_REFRESH_DIFF ?? "";
  return /^(1|true)$/i.test(value.trim());
}
