import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRepo, git, type TestRepo } from "../../../../test/support/git.js";
import { parseAdvertisement, readLocalRefs } from "./refs.js";

/** What `git ls-remote` answers for the names, as a map (the reference). */
function lsRemote(repo: string, names: readonly string[]): Map<string, string> {
  const out = git(tmpdir(), "ls-remote", "--", repo, ...names);
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [sha, name] = line.split("\t");
        return [name as string, sha as string];
      }),
  );
}

const NAMES = [
  "refs/heads/main",
  "refs/heads/missing",
  "refs/tags/light",
  "refs/tags/light^{}",
  "refs/tags/v1",
  "refs/tags/v1^{}",
  "refs/tags/nested^{}",
  "refs/tags/nested",
];

describe("readLocalRefs", () => {
  let root: string;
  let repo: TestRepo;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "driftless-refs-"));
    repo = createRepo(root);
    repo.commit({}, "one");
    repo.tag("light", false);
    repo.tag("v1", true);
    git(repo.work, "tag", "-a", "-m", "tag of a tag", "nested", "v1");
    git(repo.work, "push", "--quiet", "origin", "refs/tags/nested");
    repo.commit({}, "two");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("answers as git ls-remote does for loose branches and tags", () => {
    expect(readLocalRefs(repo.fileUrl, NAMES)).toEqual(lsRemote(repo.fileUrl, NAMES));
  });

  it("answers as git ls-remote does once refs are packed", () => {
    git(repo.bare, "pack-refs", "--all");
    git(repo.bare, "gc", "--quiet");
    expect(readLocalRefs(repo.fileUrl, NAMES)).toEqual(lsRemote(repo.fileUrl, NAMES));
  });

  it("prefers a loose ref over a stale packed one", () => {
    git(repo.bare, "pack-refs", "--all");
    const three = repo.commit({}, "three");
    expect(readLocalRefs(repo.bare, ["refs/heads/main"])?.get("refs/heads/main")).toBe(three);
  });

  it("reads a non-bare repository by its path", () => {
    expect(readLocalRefs(repo.work, ["refs/heads/main"])).toEqual(lsRemote(repo.work, ["refs/heads/main"]));
  });

  it("leaves to git what it cannot read: other ref storage, missing paths, remote URLs", () => {
    appendFileSync(join(repo.bare, "config"), "[extensions]\n\trefStorage = reftable\n");
    expect(readLocalRefs(repo.fileUrl, ["refs/heads/main"])).toBeUndefined();
    expect(readLocalRefs(join(root, "nowhere"), ["refs/heads/main"])).toBeUndefined();
    expect(readLocalRefs("https://example.com/r.git", ["refs/heads/main"])).toBeUndefined();
  });
});

describe("parseAdvertisement", () => {
  const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, "0")}${line}`;
  const a = "a".repeat(40);
  const b = "b".repeat(40);

  it("reads refs, peeled tags and skips the service line and capabilities", () => {
    const body = Buffer.from(
      `${pkt("# service=git-upload-pack\n")}0000${pkt(`${a} HEAD\0multi_ack symref=HEAD:refs/heads/main\n`)}${pkt(`${a} refs/heads/main\n`)}${pkt(`${b} refs/tags/v1\n`)}${pkt(`${a} refs/tags/v1^{}\n`)}0000`,
    );
    expect(parseAdvertisement(body)).toEqual(
      new Map([
        ["HEAD", a],
        ["refs/heads/main", a],
        ["refs/tags/v1", b],
        ["refs/tags/v1^{}", a],
      ]),
    );
  });

  it("reads an empty repository as no refs", () => {
    const body = Buffer.from(
      `${pkt("version 1\n")}${pkt(`${"0".repeat(40)} capabilities^{}\0agent=git\n`)}0000`,
    );
    expect(parseAdvertisement(body).size).toBe(0);
  });

  it("refuses a malformed advertisement", () => {
    expect(() => parseAdvertisement(Buffer.from("zzzz"))).toThrowError(/malformed/);
  });
});
