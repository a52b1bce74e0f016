// What the API shows of a target: its spec without secrets, and JSON redaction.
import { publicRepoUrl, Redactor, readSecret } from "../spec/secrets.js";
import type { ResolvedTarget, SecretSource, SshKeySource } from "../spec/spec.js";

/**
 * A target's resolved spec as the API shows it: secret values are never
 * included — secret config, environment values and the passphrase appear as
 * key names only, credentials are stripped from URLs.
 */
export interface PublicTarget {
  readonly name: string;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly stack: string;
  /** Whether the target runs an inline program rather than the project at {@link path}. */
  readonly inline: boolean;
  readonly projectName?: string;
  readonly backend: string;
  readonly secretsProvider: string;
  readonly config: Readonly<Record<string, string>>;
  /** Names of the secret config keys; their values are never returned. */
  readonly secretConfigKeys: readonly string[];
  /** Names of the environment variables set for the engine; values may be credentials. */
  readonly envKeys: readonly string[];
  readonly mode: ResolvedTarget["mode"];
  readonly refresh: boolean;
  readonly intervalMs: number;
  readonly jitter: number;
  readonly schedule?: string;
  readonly resyncMs: number;
  readonly timeoutMs: number;
  readonly suspend: boolean;
  readonly gates: ResolvedTarget["gates"];
  readonly destroyOnRemove: boolean;
  readonly auth: {
    readonly username?: string;
    readonly sshKeyPath?: string;
    /** Where the SSH key is read from (the source, never the key). */
    readonly sshKey?: SshKeySource;
    readonly knownHostsPath?: string;
    /** Whether a token is configured. */
    readonly token: boolean;
  };
}

/** The public view of a resolved target. */
export function publicTarget(target: ResolvedTarget): PublicTarget {
  const { auth } = target;
  return {
    name: target.name,
    repo: publicRepoUrl(target.repo),
    ref: target.ref,
    path: target.path,
    stack: target.stack,
    inline: target.program !== undefined,
    ...(target.projectName ? { projectName: target.projectName } : {}),
    backend: publicRepoUrl(target.backend),
    secretsProvider: publicRepoUrl(target.secretsProvider),
    config: target.config,
    secretConfigKeys: Object.keys(target.secretConfig).sort(),
    envKeys: Object.keys(target.env).sort(),
    mode: target.mode,
    refresh: target.refresh,
    intervalMs: target.intervalMs,
    jitter: target.jitter,
    ...(target.schedule ? { schedule: target.schedule } : {}),
    resyncMs: target.resyncMs,
    timeoutMs: target.timeoutMs,
    suspend: target.suspend,
    gates: target.gates,
    destroyOnRemove: target.destroyOnRemove,
    auth: {
      ...(auth.username ? { username: auth.username } : {}),
      ...(auth.sshKeyPath ? { sshKeyPath: auth.sshKeyPath } : {}),
      ...(auth.sshKey ? { sshKey: auth.sshKey } : {}),
      ...(auth.knownHostsPath ? { knownHostsPath: auth.knownHostsPath } : {}),
      token: auth.token !== undefined,
    },
  };
}

function tryRead(source: SecretSource): string | undefined {
  try {
    return readSecret(source, "secret");
  } catch {
    return undefined;
  }
}

/** Every secret value of the given targets and sources that can be read now. */
export function secretValues(
  targets: readonly ResolvedTarget[],
  extra: readonly SecretSource[] = [],
): (string | undefined)[] {
  const values: (string | undefined)[] = [];
  for (const target of targets) {
    // Environment values are not added: most are paths and flags, and
    // redacting `true` everywhere would make the output useless.
    values.push(tryRead(target.passphrase));
    for (const source of Object.values(target.secretConfig)) values.push(tryRead(source));
    if (target.auth.token) values.push(tryRead(target.auth.token));
    if (target.auth.sshKey) values.push(tryRead(target.auth.sshKey));
  }
  for (const source of extra) values.push(tryRead(source));
  return values;
}

/**
 * A redactor that knows every secret value of the given targets, as a second
 * line of defence over text the reconciler already redacted (run logs, errors).
 */
export function redactorFor(
  targets: readonly ResolvedTarget[],
  extra: readonly SecretSource[] = [],
): Redactor {
  return new Redactor().add(...secretValues(targets, extra));
}

/** A deep copy of a JSON value with every string passed through the redactor. */
export function redactJson<T>(value: T, redactor: Redactor): T {
  if (typeof value === "string") return redactor.redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactJson(v, redactor)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactJson(v, redactor)])) as T;
  }
  return value;
}
