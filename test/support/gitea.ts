/**
 * A real Gitea for the end-to-end tests: the binary scripts/bootstrap-gitea.sh
 * built, on loopback with SQLite in a temp dir, an admin, an organisation, a
 * public repository, an API token, and (once Driftless listens) a webhook.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
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
  let ssh: { port: number; knownHostsLine: string; settings: string } | undefined;
  if (options.ssh) {
    const sshPort = await freePort();
    const hostKey = join(dir, "ssh-host", "ed25519");
    mkdirSync(join(dir, "ssh-host"), { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "gitea-host", "-f", hostKey]);
    const publicKey = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    ssh = {
      port: sshPort,
      knownHostsLine: `[127.0.0.1]:${sshPort} ${publicKey}`,
      settings: `DISABLE_SSH = false
START_SSH_SERVER = true
SSH_DOMAIN = 127.0.0.1
SSH_LISTEN_HOST = 127.0.0.1
SSH_LISTEN_PORT = ${sshPort}
SSH_PORT = ${sshPort}
SSH_SERVER_HOST_KEYS = ${hostKey}
BUILTIN_SSH_SERVER_USER = git`,
    };
  }
  const internalToken = execFileSync(binary, ["generate", "secret", "INTERNAL_TOKEN"], {
    env,
    encoding: "utf8",
  }).trim();
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
ROOT_URL = ${url}/
DOMAIN = 127.0.0.1
APP_DATA_PATH = ${join(dir, "data")}
STATIC_ROOT_PATH = ${moduleRoot}
OFFLINE_MODE = true
${ssh ? ssh.settings : "DISABLE_SSH = true"}
LFS_START_SERVER = false

[security]
INSTALL_LOCK = true
SECRET_KEY = ${randomBytes(24).toString("hex")}
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
  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`gitea exited:\n${output.join("").slice(-2000)}`);
      const ok = await fetch(`${url}/api/v1/version`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline)
        throw new Error(`Gitea did not answer within 60 s:\n${output.join("").slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const basic = `Basic ${Buffer.from(`${GITEA_ADMIN}:${ADMIN_PASSWORD}`).toString("base64")}`;
    const call = async <T>(
      method: string,
      path: string,
      body: unknown,
      authorization: string,
    ): Promise<T> => {
      const res = await fetch(`${url}/api/v1${path}`, {
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
      url,
      token,
      owner,
      repo,
      cloneUrl: made.clone_url,
      pushUrl,
      api,
      ...(ssh ? { ssh: { port: ssh.port, knownHostsLine: ssh.knownHostsLine } } : {}),
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
