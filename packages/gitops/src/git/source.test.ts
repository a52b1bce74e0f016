import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRepo, git, type TestRepo } from "../../../../test/support/git.js";
import { RetryableError, StalledError } from "../errors.js";
import { gitEnv } from "./env.js";
import { GitSource, type SourceRef } from "./source.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile());
}

describe("GitSource", () => {
  let root: string;
  let repo: TestRepo;
  let source: GitSource;
  let ref: SourceRef;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "driftless-source-"));
    repo = createRepo(join(root, "repo"));
    source = new GitSource({ dataDir: join(root, "data") });
    ref = { repo: repo.fileUrl, ref: "main" };
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("tells a fetched commit's author and committer emails, and nothing for one it has not fetched", async () => {
    const first = repo.commit({ "a.txt": "1" });
    expect(await source.commitEmails(ref, first)).toBeUndefined();
    await source.checkout(ref, first, join(root, "work"));
    // test/support/git.ts commits as author@example.com, author and committer alike.
    expect(await source.commitEmails(ref, first)).toEqual(["author@example.com"]);
    expect(await source.commitEmails(ref, "f".repeat(40))).toBeUndefined();
  });

  describe("resolve", () => {
    it("resolves a branch with exactly one remote call", async () => {
      const first = repo.commit({ "a.txt": "1" });
      expect(await source.resolve(ref)).toBe(first);
      expect(source.remoteCalls).toBe(1);
      const second = repo.commit({ "a.txt": "2" });
      expect(await source.resolve(ref)).toBe(second);
      expect(source.remoteCalls).toBe(2);
      expect(await source.resolve({ ...ref, ref: "refs/heads/main" })).toBe(second);
    });

    it("resolves lightweight and annotated tags to the commit they name", async () => {
      const tagged = repo.commit({ "a.txt": "1" });
      repo.tag("v1", false);
      repo.tag("v2", true);
      repo.commit({ "a.txt": "2" });
      expect(await source.resolve({ ...ref, ref: "v1" })).toBe(tagged);
      expect(await source.resolve({ ...ref, ref: "v2" })).toBe(tagged);
      expect(await source.resolve({ ...ref, ref: "refs/tags/v1" })).toBe(tagged);
      expect(await source.resolve({ ...ref, ref: "refs/tags/v2" })).toBe(tagged);
    });

    it("prefers a branch over a tag of the same name", async () => {
      const tagged = repo.commit({ "a.txt": "1" });
      repo.tag("main", false);
      const tip = repo.commit({ "a.txt": "2" });
      expect(tip).not.toBe(tagged);
      expect(await source.resolve(ref)).toBe(tip);
    });

    it("shares a recent answer with maxAgeMs and asks again without it", async () => {
      const first = repo.commit({ "a.txt": "1" });
      const [one, two] = await Promise.all([
        source.resolve(ref, { maxAgeMs: 60_000 }),
        source.resolve(ref, { maxAgeMs: 60_000 }),
      ]);
      expect([one, two]).toEqual([first, first]);
      expect(source.remoteCalls).toBe(1);
      const second = repo.commit({ "a.txt": "2" });
      expect(await source.resolve(ref, { maxAgeMs: 60_000 })).toBe(first);
      expect(await source.resolve(ref)).toBe(second);
      expect(source.remoteCalls).toBe(2);
    });

    it("takes a full commit SHA as is, without asking the remote", async () => {
      const sha = "0123456789abcdef0123456789abcdef01234567";
      const offline = { repo: "https://unreachable.invalid/r.git", ref: sha };
      expect(await source.resolve(offline)).toBe(sha);
      expect(source.remoteCalls).toBe(0);
    });

    it("stalls with SourceRefMissing for a ref the remote does not have", async () => {
      repo.commit({ "a.txt": "1" });
      const attempt = source.resolve({ ...ref, ref: "release" });
      await expect(attempt).rejects.toBeInstanceOf(StalledError);
      await expect(attempt).rejects.toMatchObject({
        reason: "SourceRefMissing",
        message: expect.stringContaining(`ref "release" does not exist in ${repo.fileUrl}`),
      });
    });

    it("reports an unreachable remote as retryable, without its credentials", async () => {
      const attempt = source.resolve({ repo: `file://${join(root, "nope.git")}`, ref: "main" });
      await expect(attempt).rejects.toBeInstanceOf(RetryableError);
      const http = source.resolve({ repo: "https://user:tok-12345@127.0.0.1:1/r.git", ref: "main" });
      await expect(http).rejects.toBeInstanceOf(RetryableError);
      await expect(http).rejects.toThrowError(/cannot reach https:\/\/127\.0\.0\.1:1\/r\.git/);
      await expect(http).rejects.not.toThrowError(/tok-12345/);
    });
    it("removes ssh key files a killed process left, and only those, before writing its own", async () => {
      const tip = repo.commit({ "a.txt": "1" });
      const keys = join(root, "data", "ssh");
      mkdirSync(keys, { recursive: true });
      const stale = join(keys, "key-left-by-a-killed-process");
      const live = join(keys, "key-of-a-command-running-now");
      writeFileSync(stale, "old key\n");
      utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      writeFileSync(live, "live key\n");
      process.env.DRIFTLESS_TEST_SSH_KEY = "not a real key";
      try {
        const viaGit = new GitSource({ dataDir: join(root, "data"), directRefs: false });
        // file:// never runs ssh, but the key is still written for the remote command and removed after.
        expect(await viaGit.resolve({ ...ref, auth: { sshKey: { env: "DRIFTLESS_TEST_SSH_KEY" } } })).toBe(
          tip,
        );
      } finally {
        delete process.env.DRIFTLESS_TEST_SSH_KEY;
      }
      expect(readdirSync(keys)).toEqual(["key-of-a-command-running-now"]);
    });
  });

  describe("checkout", () => {
    it("checks out a revision, then a newer one, keeping only node_modules, .driftless and stack config", async () => {
      const dir = join(root, "work", "site");
      const first = repo.commit({ "index.js": "v1", "old.txt": "old", "sub/keep.txt": "k" });
      await source.checkout(ref, first, dir);
      expect(source.remoteCalls).toBe(1);
      expect(readFileSync(join(dir, "index.js"), "utf8")).toBe("v1");
      expect(git(dir, "rev-parse", "HEAD")).toBe(first);

      writeFileSync(join(dir, "untracked.log"), "x");
      writeFileSync(join(dir, "index.js"), "edited locally");
      mkdirSync(join(dir, "node_modules", "dep"), { recursive: true });
      writeFileSync(join(dir, "node_modules", "dep", "index.js"), "installed");
      mkdirSync(join(dir, ".driftless"));
      writeFileSync(join(dir, ".driftless", "state"), "s");
      writeFileSync(join(dir, "Pulumi.dev.yaml"), "config:\n  site:outDir: /tmp/x\n");

      const second = repo.commit({ "index.js": "v2", "old.txt": null, "new.txt": "new" });
      await source.checkout(ref, second, dir, first);
      expect(git(dir, "rev-parse", "HEAD")).toBe(second);
      expect(readFileSync(join(dir, "index.js"), "utf8")).toBe("v2");
      expect(readFileSync(join(dir, "new.txt"), "utf8")).toBe("new");
      expect(existsSync(join(dir, "old.txt"))).toBe(false);
      expect(existsSync(join(dir, "untracked.log"))).toBe(false);
      expect(readFileSync(join(dir, "sub", "keep.txt"), "utf8")).toBe("k");
      expect(readFileSync(join(dir, "node_modules", "dep", "index.js"), "utf8")).toBe("installed");
      expect(existsSync(join(dir, ".driftless", "state"))).toBe(true);
      expect(existsSync(join(dir, "Pulumi.dev.yaml"))).toBe(true);
    });

    it("checks out an older revision already in the mirror without fetching", async () => {
      const first = repo.commit({ "a.txt": "1" });
      const second = repo.commit({ "a.txt": "2" });
      const dir = join(root, "work", "site");
      await source.checkout(ref, second, dir);
      const calls = source.remoteCalls;
      await source.checkout(ref, first, dir);
      expect(source.remoteCalls).toBe(calls);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("1");
    });

    it("checks out a ref given as a full SHA", async () => {
      const first = repo.commit({ "a.txt": "1" });
      repo.commit({ "a.txt": "2" });
      const dir = join(root, "work", "pinned");
      const pinned = { repo: repo.fileUrl, ref: first };
      await source.checkout(pinned, await source.resolve(pinned), dir);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("1");
    });

    it("checks out tags given by their short or full names", async () => {
      const tagged = repo.commit({ "a.txt": "tagged" });
      repo.tag("v1", false);
      repo.tag("v2", true);
      repo.commit({ "a.txt": "later" });
      for (const name of ["v1", "v2", "refs/tags/v1", "refs/tags/v2"]) {
        const dir = join(root, "work", name.replaceAll("/", "-"));
        const tagRef = { repo: repo.fileUrl, ref: name };
        await source.checkout(tagRef, await source.resolve(tagRef), dir);
        expect(readFileSync(join(dir, "a.txt"), "utf8"), name).toBe("tagged");
        expect(git(dir, "rev-parse", "HEAD"), name).toBe(tagged);
      }
    });

    it("refuses a force-pushed ref that does not descend from the previous revision", async () => {
      const base = repo.commit({ "a.txt": "1" });
      const applied = repo.commit({ "a.txt": "2" });
      const dir = join(root, "work", "site");
      await source.checkout(ref, applied, dir);
      repo.forcePush(base);
      const rewritten = repo.commit({ "a.txt": "rewritten" });
      expect(await source.resolve(ref)).toBe(rewritten);
      const attempt = source.checkout(ref, rewritten, dir, applied);
      await expect(attempt).rejects.toBeInstanceOf(StalledError);
      await expect(attempt).rejects.toMatchObject({
        reason: "SourceRefRewritten",
        message: expect.stringMatching(/does not descend from it/),
      });
      // Nothing changed in the worktree.
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("2");
      // Without `previous` (an approved revision) it checks out.
      await source.checkout(ref, rewritten, dir);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("rewritten");
    });

    it("refuses a ref reset back to an ancestor of the previous revision", async () => {
      const first = repo.commit({ "a.txt": "1" });
      const second = repo.commit({ "a.txt": "2" });
      const dir = join(root, "work", "site");
      await source.checkout(ref, second, dir);
      repo.forcePush(first);
      await expect(source.checkout(ref, first, dir, second)).rejects.toMatchObject({
        reason: "SourceRefRewritten",
      });
    });

    it("serves two worktrees from one mirror at the same time", async () => {
      const sha = repo.commit({ "a.txt": "1" });
      await Promise.all([
        source.checkout(ref, sha, join(root, "work", "one")),
        source.checkout(ref, sha, join(root, "work", "two")),
      ]);
      expect(readFileSync(join(root, "work", "one", "a.txt"), "utf8")).toBe("1");
      expect(readFileSync(join(root, "work", "two", "a.txt"), "utf8")).toBe("1");
      expect(readdirSync(join(root, "data", "git"))).toHaveLength(1);
    });

    it("checks out a pushed commit with one fetch, or the ref's tip when the push named another", async () => {
      const first = repo.commit({ "a.txt": "1" });
      const dir = join(root, "work", "site");
      await source.checkout(ref, first, dir);
      const second = repo.commit({ "a.txt": "2" });
      const calls = source.remoteCalls;
      expect(await source.checkoutPushed(ref, second, dir, first)).toBe(second);
      expect(source.remoteCalls - calls).toBe(1);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("2");
      // A commit the mirror holds (another branch) that is not the ref's tip.
      git(repo.work, "checkout", "--quiet", "-b", "other");
      writeFileSync(join(repo.work, "a.txt"), "other");
      git(repo.work, "commit", "--quiet", "-am", "other");
      git(repo.work, "push", "--quiet", "origin", "other");
      const other = git(repo.work, "rev-parse", "HEAD");
      git(repo.work, "checkout", "--quiet", "main");
      const third = repo.commit({ "a.txt": "3" });
      await source.checkout({ repo: repo.fileUrl, ref: "other" }, other, join(root, "work", "other"));
      expect(await source.checkoutPushed(ref, other, dir, second)).toBe(third);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("3");
    });

    it("refuses a pushed commit on a force-pushed ref", async () => {
      const base = repo.commit({ "a.txt": "1" });
      const applied = repo.commit({ "a.txt": "2" });
      const dir = join(root, "work", "site");
      await source.checkout(ref, applied, dir);
      repo.forcePush(base);
      const rewritten = repo.commit({ "a.txt": "rewritten" });
      await expect(source.checkoutPushed(ref, rewritten, dir, applied)).rejects.toMatchObject({
        reason: "SourceRefRewritten",
      });
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("2");
    });

    it("retries when the revision is no longer on the ref", async () => {
      repo.commit({ "a.txt": "1" });
      const dir = join(root, "work", "site");
      const attempt = source.checkout(ref, "0123456789abcdef0123456789abcdef01234567", dir);
      await expect(attempt).rejects.toBeInstanceOf(RetryableError);
      await expect(attempt).rejects.toThrowError(/no longer reachable/);
    });
  });

  it("lists the files changed between two revisions", async () => {
    const first = repo.commit({ "a.txt": "1", "b.txt": "1", "c/d.txt": "1" });
    const second = repo.commit({ "a.txt": "2", "b.txt": null, "c/e.txt": "new" });
    await source.checkout(ref, second, join(root, "work", "site"));
    expect((await source.changedFiles(ref, first, second))?.sort()).toEqual(["a.txt", "b.txt", "c/e.txt"]);
    expect(await source.changedFiles(ref, second, second)).toEqual([]);
    expect(await source.changedFiles(ref, first, "0123456789abcdef0123456789abcdef01234567")).toBeUndefined();
  });

  it("tells whether two revisions hold the same tree at given paths", async () => {
    const first = repo.commit({ "site/index.js": "1", "lib/a.js": "1", "docs/x.md": "1" });
    const docs = repo.commit({ "docs/x.md": "2" });
    const lib = repo.commit({ "lib/a.js": "2" });
    const reverted = repo.revert(lib);
    expect(await source.sameTree(ref, first, docs, ["site"])).toBe(true);
    expect(await source.sameTree(ref, first, docs, ["./site/", "lib/"])).toBe(true);
    expect(await source.sameTree(ref, first, docs, ["."])).toBe(false);
    expect(await source.sameTree(ref, first, lib, ["site", "lib"])).toBe(false);
    expect(await source.sameTree(ref, first, lib, ["site", "nothere"])).toBe(true);
    expect(await source.sameTree(ref, docs, reverted, ["."])).toBe(true);
    expect(
      await source.sameTree(ref, first, "0123456789abcdef0123456789abcdef01234567", ["."]),
    ).toBeUndefined();
  });

  describe("with a token", () => {
    const token = "tok-Very-Secret-8c1e";
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    let wrapperDir: string;
    let argsLog: string;
    const savedPath = process.env.PATH;

    beforeEach(() => {
      // A `git` first on PATH that logs its arguments, then runs the real git.
      wrapperDir = join(root, "bin");
      argsLog = join(root, "git-args.log");
      mkdirSync(wrapperDir);
      const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
      writeFileSync(
        join(wrapperDir, "git"),
        `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argsLog}'\nexec '${realGit}' "$@"\n`,
      );
      chmodSync(join(wrapperDir, "git"), 0o755);
      process.env.PATH = `${wrapperDir}:${savedPath}`;
    });
    afterEach(() => {
      process.env.PATH = savedPath;
    });

    it("resolves a file:// ref without starting git", async () => {
      const sha = repo.commit({ "a.txt": "1" });
      rmSync(argsLog, { force: true });
      expect(await source.resolve({ repo: repo.fileUrl, ref: "main", auth: { token } })).toBe(sha);
      expect(existsSync(argsLog)).toBe(false);
    });

    it("passes it to git only through the environment and never writes it down", async () => {
      // Refs read by git, not from the files, so that ls-remote gets the token too.
      source = new GitSource({ dataDir: join(root, "data"), directRefs: false });
      const sha = repo.commit({ "a.txt": "1" });
      const authed: SourceRef = { repo: repo.fileUrl, ref: "main", auth: { token } };
      expect(await source.resolve(authed)).toBe(sha);
      await source.checkout(authed, sha, join(root, "work", "site"));
      await source.changedFiles(authed, sha, sha);

      const args = readFileSync(argsLog, "utf8");
      expect(args).toContain("ls-remote");
      expect(args).toContain("fetch");
      expect(args).not.toContain(token);
      expect(args).not.toContain(basic);
      for (const file of [...filesUnder(join(root, "data")), ...filesUnder(join(root, "work"))]) {
        const content = readFileSync(file);
        expect(content.includes(token), file).toBe(false);
        expect(content.includes(basic), file).toBe(false);
      }
    });
  });

  describe("over HTTP", () => {
    let server: ReturnType<typeof createServer>;
    let url: string;
    const seen: IncomingHttpHeaders[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/r.git`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it("sends the token as HTTP basic auth with the configured user name", async () => {
      seen.length = 0;
      const attempt = source.resolve({
        repo: url,
        ref: "main",
        auth: { token: "tok-over-http", username: "bot" },
      });
      await expect(attempt).rejects.toBeInstanceOf(RetryableError);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from("bot:tok-over-http").toString("base64")}`);
    });
  });
});

describe("gitEnv", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it("never prompts and carries no credentials without auth", () => {
    const env = gitEnv(undefined);
    expect(env.GIT_TERMINAL_PROMPT).toBe("0");
    expect(env.GIT_CONFIG_COUNT).toBeUndefined();
    expect(env.GIT_SSH_COMMAND).toBeUndefined();
    expect(env.PATH).toBe(process.env.PATH);
  });

  it("puts a token only in GIT_CONFIG_VALUE_0, as a basic auth header", () => {
    const env = gitEnv({ token: "tok-abc-123" });
    const basic = Buffer.from("x-access-token:tok-abc-123").toString("base64");
    expect(env).toMatchObject({
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.extraHeader",
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    });
    const holders = Object.entries(env).filter(([, v]) => v.includes("tok-abc-123") || v.includes(basic));
    expect(holders.map(([k]) => k)).toEqual(["GIT_CONFIG_VALUE_0"]);
    expect(gitEnv({ token: "tok-abc-123", username: "bot" }).GIT_CONFIG_VALUE_0).toBe(
      `Authorization: Basic ${Buffer.from("bot:tok-abc-123").toString("base64")}`,
    );
  });

  it("reads the token from the environment at call time", () => {
    process.env.DRIFTLESS_TEST_GIT_TOKEN = "rotated-token";
    expect(gitEnv({ token: { env: "DRIFTLESS_TEST_GIT_TOKEN" } }).GIT_CONFIG_VALUE_0).toBe(
      `Authorization: Basic ${Buffer.from("x-access-token:rotated-token").toString("base64")}`,
    );
    delete process.env.DRIFTLESS_TEST_GIT_TOKEN;
    expect(() => gitEnv({ token: { env: "DRIFTLESS_TEST_GIT_TOKEN" } })).toThrowError(/is not set/);
  });

  it("drops inherited variables that would run other programs or inject config", () => {
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "core.sshCommand",
      GIT_CONFIG_VALUE_0: "evil",
      GIT_CONFIG_PARAMETERS: "'core.pager=evil'",
      GIT_SSH_COMMAND: "evil",
      GIT_ASKPASS: "evil",
      GIT_EXTERNAL_DIFF: "evil",
      EDITOR: "evil",
      DRIFTLESS_HARMLESS: "kept",
    });
    const env = gitEnv(undefined);
    for (const key of [
      "GIT_CONFIG_COUNT",
      "GIT_CONFIG_KEY_0",
      "GIT_CONFIG_VALUE_0",
      "GIT_CONFIG_PARAMETERS",
      "GIT_SSH_COMMAND",
      "GIT_ASKPASS",
      "GIT_EXTERNAL_DIFF",
      "EDITOR",
    ]) {
      expect(env[key], key).toBeUndefined();
    }
    expect(env.DRIFTLESS_HARMLESS).toBe("kept");
  });

  it("builds a batch-mode ssh command with the key, quoting paths", () => {
    expect(gitEnv({ sshKeyPath: "/keys/deploy key" }).GIT_SSH_COMMAND).toBe(
      "ssh -i '/keys/deploy key' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
    );
    expect(gitEnv({ sshKeyPath: "/k/id", knownHostsPath: "/k/it's" }).GIT_SSH_COMMAND).toBe(
      "ssh -i '/k/id' -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile='/k/it'\\''s' -o StrictHostKeyChecking=yes",
    );
    // A key from a secret source is in the file GitSource wrote for the command.
    expect(gitEnv({ sshKey: { env: "DEPLOY_KEY" } }, "/data/ssh/key-1").GIT_SSH_COMMAND).toMatch(
      /^ssh -i '\/data\/ssh\/key-1' /,
    );
    expect(() => gitEnv({ sshKey: { env: "DEPLOY_KEY" } })).toThrowError(/needs the key in a file/);
  });
});
