// Git over SSH, as the README documents it, against Gitea's built-in SSH
// server: a target's repository `ssh://git@127.0.0.1:<port>/acme/infra.git`
// read with a deploy key — from a file named by `auth.sshKeyPath`, or from a
// secret source `auth.sshKey` (`{ file }`, `{ env }`) — and the host key
// pinned in known_hosts; a host key that is not the pinned one is refused,
// saying why.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { type GitAuth, GitSource, Reconciler, type SourceRef } from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo } from "./support/git.js";
import { type Gitea, startGitea } from "./support/gitea.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const KEY_ENV = "DRIFTLESS_TEST_SSH_DEPLOY_KEY";

describe("a repository over SSH", () => {
  let sandbox: EngineSandbox;
  let dir: string;
  let gitea: Gitea;
  let deployKey: string;
  let mountedKey: string;
  let knownHosts: string;
  let pushed: string;
  let repo: string;

  /** Key files GitSource wrote for ssh under a data dir and did not remove. */
  const keysLeft = (dataDir: string) =>
    existsSync(join(dataDir, "ssh")) ? readdirSync(join(dataDir, "ssh")) : [];

  /** Resolves `main` and checks it out with `auth`, in a data dir of its own. */
  const readWith = async (name: string, auth: GitAuth) => {
    const dataDir = join(dir, `data-${name}`);
    const source = new GitSource({ dataDir });
    const ref: SourceRef = { repo, ref: "main", auth };
    expect(await source.resolve(ref)).toBe(pushed);
    const checkout = join(dir, `checkout-${name}`);
    await source.checkout(ref, pushed, checkout);
    expect(readFileSync(join(checkout, "Pulumi.yaml"), "utf8")).toContain("name: site");
    return dataDir;
  };

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-git-ssh-");
    dir = sandbox.dir;
    gitea = await startGitea(join(dir, "gitea"), "acme", "infra", { ssh: true });
    const ssh = gitea.ssh as NonNullable<Gitea["ssh"]>;
    const work = createRepo(join(dir, "seed"), { seed: siteProgramSeed(dir) });
    execFileSync("git", ["-C", work.work, "remote", "set-url", "origin", gitea.pushUrl]);
    pushed = work.commit({}, "site v1");
    // A read-only deploy key; ssh-keygen writes its private half 0600, as `auth.sshKeyPath` needs it.
    deployKey = join(dir, "deploy_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "driftless-deploy", "-f", deployKey]);
    await gitea.api("POST", "/repos/acme/infra/keys", {
      title: "driftless",
      key: readFileSync(`${deployKey}.pub`, "utf8").trim(),
      read_only: true,
    });
    // The same key as a mounted secret shows it (a Kubernetes Secret volume is 0644 by
    // default): ssh ignores such a file given to it directly.
    mountedKey = join(dir, "mounted", "ssh-privatekey");
    mkdirSync(join(dir, "mounted"));
    copyFileSync(deployKey, mountedKey);
    chmodSync(mountedKey, 0o644);
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `${ssh.knownHostsLine}\n`);
    repo = `ssh://git@127.0.0.1:${ssh.port}/acme/infra.git`;
  }, 120_000);

  afterAll(async () => {
    delete process.env[KEY_ENV];
    await gitea?.stop();
    sandbox?.dispose();
  });

  it("resolves and checks out a ref with a deploy key file and the pinned host key", async () => {
    await readWith("path", { sshKeyPath: deployKey, knownHostsPath: knownHosts });
  });

  it("reads the deploy key from a secret source { file }, whatever the file's mode", async () => {
    const dataDir = await readWith("file", { sshKey: { file: mountedKey }, knownHostsPath: knownHosts });
    expect(keysLeft(dataDir)).toEqual([]);
  });

  it("reads the deploy key's contents from { env }, leaving no key file behind", async () => {
    process.env[KEY_ENV] = readFileSync(deployKey, "utf8");
    try {
      const dataDir = await readWith("env", { sshKey: { env: KEY_ENV }, knownHostsPath: knownHosts });
      // Written under the data dir while git ran (ssh took it: it refuses a key others can read), removed since.
      expect(existsSync(join(dataDir, "ssh"))).toBe(true);
      expect(keysLeft(dataDir)).toEqual([]);
    } finally {
      delete process.env[KEY_ENV];
    }
  });

  it("applies a target whose repository is reached over SSH with a deploy key from { file }", async () => {
    const outDir = join(dir, "site");
    const dataDir = join(dir, "data-target");
    const reconciler = await Reconciler.create({
      dataDir,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        {
          name: "site",
          repo,
          stack: "dev",
          passphrase: "test-passphrase",
          auth: { sshKey: { file: mountedKey }, knownHostsPath: knownHosts },
          config: { outDir },
          env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
        },
      ],
    });
    try {
      const run = await reconciler.reconcile("site");
      expect(run.error).toBeUndefined();
      expect(run).toMatchObject({ result: "applied", revision: pushed });
      expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v1</h1>");
      expect(reconciler.target("site")?.auth.sshKey).toEqual({ file: mountedKey });
      expect(keysLeft(dataDir)).toEqual([]);
      // The key is a secret: no run log holds it.
      const key = readFileSync(deployKey, "utf8").trim().split("\n")[1] as string;
      expect(JSON.stringify(await reconciler.history("site"))).not.toContain(key);
    } finally {
      await reconciler.stop({ graceMs: 1000 });
    }
  });

  it("refuses a server whose host key is not the pinned one, saying so", async () => {
    const other = join(dir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const wrong = join(dir, "known_hosts_wrong");
    const port = (gitea.ssh as NonNullable<Gitea["ssh"]>).port;
    const key = readFileSync(`${other}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    writeFileSync(wrong, `[127.0.0.1]:${port} ${key}\n`);
    for (const [name, auth] of [
      ["wrong-path", { sshKeyPath: deployKey, knownHostsPath: wrong }],
      ["wrong-file", { sshKey: { file: mountedKey }, knownHostsPath: wrong }],
    ] as const) {
      const source = new GitSource({ dataDir: join(dir, `data-${name}`) });
      const ref: SourceRef = { repo, ref: "main", auth };
      await expect(source.resolve(ref), name).rejects.toThrow(
        /host key is not the one `auth.knownHostsPath` lists for it \(Host key verification failed\); refusing to connect/,
      );
    }
  });
});
