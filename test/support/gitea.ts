/**
 * A real Gitea for the end-to-end tests: the binary scripts/bootstrap-gitea.sh
 * built, on loopback with SQLite in a temp dir, an admin, an organisation, a
 * public repository, an API token, and (once Driftless listens) a webhook.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADDRESS_IN_USE, freePorts } from "./ports.js";

const BIN = fileURLToPath(new URL("../../.toolchain/gitea/bin/", import.meta.url));

export const GITEA_ADMIN = "driftless-admin";
const ADMIN_PASSWORD = "Adm1n-password-for-tests";

/** A running Gitea and what the test set up in it. */
export interface Gitea {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** An API token of the admin (scopes: all). */
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  /** The repository's clone URL, as webhooks report it (no credentials). */
  readonly cloneUrl: string;
  /** The clone URL with the admin's credentials, for pushing from a test clone. */
  readonly pushUrl: string;
  /** Calls API v1 as the admin; throws on a non-2xx answer. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /**
   * With `{ ssh: true }`: the built-in SSH server's loopback port and its host
   * key as a `known_hosts` line (`[127.0.0.1]:<port> ssh-ed25519 …`).
   */
  readonly ssh?: { readonly port: number; readonly knownHostsLine: string };
  /** Adds a repository webhook (type gitea: GitHub-compatible headers and HMAC) for push and pull request events. */
  addWebhook(url: string, secret: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts Gitea in `dir` and creates `owner/repo` in it. With `ssh`, its
 * built-in SSH server listens on loopback too (user `git`), with a host key
 * made here so the test knows it.
 */
export async function startGitea(
  dir: string,
  owner = "acme",
  repo = "infra",
  options: { readonly ssh?: boolean } = {},
): Promise<Gitea> {
  const binary = join(BIN, "gitea");
  if (!existsSync(binary)) {
    throw new Error(`no Gitea at ${binary}: run scripts/bootstrap-gitea.sh (make test does)`);
  }
  const moduleRoot = readFileSync(join(BIN, "gitea.root"), "utf8").trim();
  let [port, sshPort] = await freePorts(2);
  const custom = join(dir, "custom");
  const config = join(custom, "conf", "app.ini");
  mkdirSync(join(custom, "conf"), { recursive: true });
  const env = {
    ...process.env,
    HOME: dir,
    GITEA_WORK_DIR: dir,
    GITEA_CUSTOM: custom,
    GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT: "true",
    GIT_CONFIG_NOSYSTEM: "1",
  };
  let hostKey: { path: string; publicKey: string } | undefined;
  if (options.ssh) {
    const path = join(dir, "ssh-host", "ed25519");
    mkdirSync(join(dir, "ssh-host"), { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "gitea-host", "-f", path]);
    hostKey = {
      path,
      publicKey: readFileSync(`${path}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" "),
    };
  }
  const sshSettings = (key: NonNullable<typeof hostKey>) => `DISABLE_SSH = false
START_SSH_SERVER = true
SSH_DOMAIN = 127.0.0.1
SSH_LISTEN_HOST = 127.0.0.1
SSH_LISTEN_PORT = ${sshPort}
SSH_PORT = ${sshPort}
SSH_SERVER_HOST_KEYS = ${key.path}
BUILTIN_SSH_SERVER_USER = git`;
  const internalToken = execFileSync(binary, ["generate", "secret", "INTERNAL_TOKEN"], {
    env,
    encoding: "utf8",
  }).trim();
  const secretKey = randomBytes(24).toString("hex");
  const url = () => `http://127.0.0.1:${port}`;
  // Rewritten with new ports when a port was taken before Gitea bound it (see ports.ts).
  const writeConfig = () =>
    writeFileSync(
      config,
      `APP_NAME = driftless-e2e
RUN_USER = ${userInfo().username}
RUN_MODE = prod
WORK_PATH = ${dir}

[database]
DB_TYPE = sqlite3
PATH = ${join(dir, "gitea.db")}

[repository]
ROOT = ${join(dir, "repositories")}

[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = ${port}
ROOT_URL = ${url()}/
DOMAIN = 127.0.0.1
APP_DATA_PATH = ${join(dir, "data")}
STATIC_ROOT_PATH = ${moduleRoot}
OFFLINE_MODE = true
${hostKey ? sshSettings(hostKey) : "DISABLE_SSH = true"}
LFS_START_SERVER = false

[security]
INSTALL_LOCK = true
SECRET_KEY = ${secretKey}
INTERNAL_TOKEN = ${internalToken}
ALLOWED_HOST_LIST = loopback

[service]
DISABLE_REGISTRATION = true

[mailer]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
`,
    );
  writeConfig();
  const admin = (...args: string[]) =>
    execFileSync(binary, [...args, "--config", config], { env, encoding: "utf8", stdio: "pipe" });
  admin("migrate");
  admin(
    "admin",
    "user",
    "create",
    "--admin",
    "--username",
    GITEA_ADMIN,
    "--password",
    ADMIN_PASSWORD,
    "--email",
    "admin@example.com",
    "--must-change-password=false",
  );
  let web = launchWeb(binary, config, env);
  for (let attempt = 1; ; attempt++) {
    try {
      await web.ready(url());
      break;
    } catch (error) {
      await web.stop();
      if (attempt >= 3 || !ADDRESS_IN_USE.test(web.output())) throw error;
      [port, sshPort] = await freePorts(2);
      writeConfig();
      web = launchWeb(binary, config, env);
    }
  }
  const { stop } = web;
  try {
    const basic = `Basic ${Buffer.from(`${GITEA_ADMIN}:${ADMIN_PASSWORD}`).toString("base64")}`;
    const call = async <T>(
      method: string,
      path: string,
      body: unknown,
      authorization: string,
    ): Promise<T> => {
      const res = await fetch(`${url()}/api/v1${path}`, {
        method,
        headers: { authorization, "content-type": "application/json", accept: "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Gitea ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
      return (text ? JSON.parse(text) : undefined) as T;
    };
    const created = await call<{ sha1: string }>(
      "POST",
      `/users/${GITEA_ADMIN}/tokens`,
      { name: "driftless-e2e", scopes: ["all"] },
      basic,
    );
    const token = created.sha1;
    const api = <T>(method: string, path: string, body?: unknown) =>
      call<T>(method, path, body, `token ${token}`);
    await api("POST", "/orgs", { username: owner, visibility: "public" });
    const made = await api<{ clone_url: string }>("POST", `/orgs/${owner}/repos`, {
      name: repo,
      private: false,
      default_branch: "main",
    });
    const pushUrl = made.clone_url.replace(
      /^http:\/\//,
      `http://${GITEA_ADMIN}:${encodeURIComponent(ADMIN_PASSWORD)}@`,
    );
    return {
      url: url(),
      token,
      owner,
      repo,
      cloneUrl: made.clone_url,
      pushUrl,
      api,
      ...(hostKey
        ? { ssh: { port: sshPort as number, knownHostsLine: `[127.0.0.1]:${sshPort} ${hostKey.publicKey}` } }
        : {}),
      async addWebhook(hookUrl, secret) {
        const hook = await api<{ id: number }>("POST", `/repos/${owner}/${repo}/hooks`, {
          type: "gitea",
          active: true,
          events: ["push", "pull_request"],
          config: { url: hookUrl, content_type: "json", secret },
        });
        return hook.id;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `gitea web`, started; `ready` resolves once its API answers. */
function launchWeb(
  binary: string,
  config: string,
  env: NodeJS.ProcessEnv,
): { ready(url: string): Promise<void>; stop(): Promise<void>; output(): string } {
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, ["web", "--config", config], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
    });
  }
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const tail = () => output.join("").slice(-2000);
  return {
    output: () => output.join(""),
    async ready(url) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (exited) throw new Error(`gitea exited:\n${tail()}`);
        // Gitea logs a taken port and stays up without a server.
        if (ADDRESS_IN_USE.test(output.join(""))) throw new Error(`Gitea's port was taken:\n${tail()}`);
        // Bounded: another server may hold the port and never answer.
        const ok = await fetch(`${url}/api/v1/version`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`Gitea did not answer within 60 s:\n${tail()}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
