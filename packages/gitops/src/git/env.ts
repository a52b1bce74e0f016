// The environment git runs with: nothing inherited that would make it run other programs, no prompts, credentials only in memory.
import { readSecret } from "../spec/secrets.js";
import type { GitAuth } from "../spec/spec.js";

// Variables that make git run other programs or read other config; a daemon
// must not inherit them from whoever started it.
const INHERITED_UNSAFE =
  /^(GIT_CONFIG.*|GIT_ASKPASS|SSH_ASKPASS|GIT_SSH|GIT_SSH_COMMAND|GIT_EDITOR|EDITOR|VISUAL|GIT_SEQUENCE_EDITOR|GIT_PAGER|PAGER|GIT_EXEC_PATH|GIT_EXTERNAL_DIFF|GIT_PROXY_COMMAND|GIT_TEMPLATE_DIR|PREFIX|GIT_DIR|GIT_WORK_TREE|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_NAMESPACE|GIT_COMMON_DIR)$/i;

/**
 * The environment git runs with: no prompts, and credentials only in memory.
 * An `auth.sshKey` must already be in a file: `sshKeyFile` names it
 * (`GitSource` writes one for each command that reaches the remote).
 * @throws Error for an `auth.sshKey` without `sshKeyFile`
 */
export function gitEnv(auth: GitAuth | undefined, sshKeyFile?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !INHERITED_UNSAFE.test(key)) env[key] = value;
  }
  env.GIT_TERMINAL_PROMPT = "0";
  const authorization = authHeader(auth);
  if (authorization) {
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = "http.extraHeader";
    env.GIT_CONFIG_VALUE_0 = `Authorization: ${authorization}`;
  }
  if (auth?.sshKey && !sshKeyFile) {
    throw new Error("`auth.sshKey` needs the key in a file for ssh: pass it as `sshKeyFile`");
  }
  const keyFile = sshKeyFile ?? auth?.sshKeyPath;
  if (keyFile) {
    const knownHosts = auth?.knownHostsPath
      ? `-o UserKnownHostsFile=${shellQuote(auth.knownHostsPath)} -o StrictHostKeyChecking=yes`
      : "-o StrictHostKeyChecking=accept-new";
    env.GIT_SSH_COMMAND = `ssh -i ${shellQuote(keyFile)} -o IdentitiesOnly=yes -o BatchMode=yes ${knownHosts}`;
  }
  return env;
}

/** The `Authorization` header value a token in `auth` becomes (HTTP Basic, as git sends it). */
export function authHeader(auth: GitAuth | undefined): string | undefined {
  if (!auth?.token) return undefined;
  const token = readSecret(auth.token, "git auth token");
  return `Basic ${Buffer.from(`${auth.username ?? "x-access-token"}:${token}`).toString("base64")}`;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
