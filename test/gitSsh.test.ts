// Git over SSH, as the README documents it, against Gitea's built-in SSH
// server: a target's repository `ssh://git@127.0.0.1:<port>/acme/infra.git`
// read with a deploy key from a file and the host key pinned in known_hosts;
// a host key that is not the pinned one is refused, saying why.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitSource, type SourceRef } from "@driftless/gitops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepo } from "./support/git.js";
import { type Gitea, startGitea } from "./support/gitea.js";

describe("a repository over SSH", () => {
  let dir: string;
  let gitea: Gitea;
  let deployKey: string;
  let knownHosts: string;
  let pushed: string;
  let repo: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-git-ssh-"));
    gitea = await startGitea(join(dir, "gitea"), "acme", "infra", { ssh: true });
    const ssh = gitea.ssh as NonNullable<Gitea["ssh"]>;
    const work = createRepo(join(dir, "seed"));
    execFileSync("git", ["-C", work.work, "remote", "set-url", "origin", gitea.pushUrl]);
    pushed = work.commit({ "Pulumi.yaml": "name: infra\nruntime: nodejs\n" }, "first commit");
    // A read-only deploy key, its private half in a file as `auth.sshKeyPath` names it.
    deployKey = join(dir, "deploy_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "driftless-deploy", "-f", deployKey]);
    await gitea.api("POST", "/repos/acme/infra/keys", {
      title: "driftless",
      key: readFileSync(`${deployKey}.pub`, "utf8").trim(),
      read_only: true,
    });
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `${ssh.knownHostsLine}\n`);
    repo = `ssh://git@127.0.0.1:${ssh.port}/acme/infra.git`;
  }, 120_000);

  afterAll(async () => {
    await gitea?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resolves and checks out a ref with a deploy key and the pinned host key", async () => {
    const source = new GitSource({ dataDir: join(dir, "data") });
    const ref: SourceRef = { repo, ref: "main", auth: { sshKeyPath: deployKey, knownHostsPath: knownHosts } };
    expect(await source.resolve(ref)).toBe(pushed);
    const checkout = join(dir, "checkout");
    await source.checkout(ref, pushed, checkout);
    expect(readFileSync(join(checkout, "Pulumi.yaml"), "utf8")).toContain("name: infra");
  });

  it("refuses a server whose host key is not the pinned one, saying so", async () => {
    const other = join(dir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const wrong = join(dir, "known_hosts_wrong");
    const port = (gitea.ssh as NonNullable<Gitea["ssh"]>).port;
    const key = readFileSync(`${other}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    writeFileSync(wrong, `[127.0.0.1]:${port} ${key}\n`);
    const source = new GitSource({ dataDir: join(dir, "data-wrong") });
    const ref: SourceRef = { repo, ref: "main", auth: { sshKeyPath: deployKey, knownHostsPath: wrong } };
    await expect(source.resolve(ref)).rejects.toThrow(
      /host key is not the one `auth.knownHostsPath` lists for it \(Host key verification failed\); refusing to connect/,
    );
  });
});
