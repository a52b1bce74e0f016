import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DriftlessError } from "../errors.js";
import { publicRepoUrl, Redactor, readSecret, SecretUnavailableError } from "./secrets.js";

describe("readSecret", () => {
  let dir: string;
  const envName = "DRIFTLESS_SECRETS_TEST_VALUE";

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-secrets-"));
  });
  afterEach(() => {
    delete process.env[envName];
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns an inline string as is", () => {
    expect(readSecret("s3cr3t-value", "passphrase")).toBe("s3cr3t-value");
  });

  it("reads an environment variable when asked, so a rotated value takes effect", () => {
    process.env[envName] = "first";
    expect(readSecret({ env: envName }, "passphrase")).toBe("first");
    process.env[envName] = "second";
    expect(readSecret({ env: envName }, "passphrase")).toBe("second");
  });

  it("names the field and the variable when the variable is missing or empty", () => {
    expect(() => readSecret({ env: envName }, "secretConfig.apiToken")).toThrowError(
      `secretConfig.apiToken: environment variable ${envName} is not set`,
    );
    process.env[envName] = "";
    expect(() => readSecret({ env: envName }, "passphrase")).toThrowError(
      /passphrase: environment variable .* is empty/,
    );
  });

  it("stalls instead of failing when a source is missing or empty, since retrying cannot help", () => {
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    for (const source of [{ env: envName }, { file: join(dir, "missing") }, { file: empty }]) {
      let caught: unknown;
      try {
        readSecret(source, "passphrase");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SecretUnavailableError);
      expect(caught).toBeInstanceOf(DriftlessError);
      expect(caught).toMatchObject({ reason: "InvalidConfig", source });
    }
    expect(() => readSecret({ file: empty }, "passphrase")).toThrowError(
      `passphrase: file ${empty} is empty`,
    );
  });

  it("reads a file and trims its trailing newline", () => {
    const file = join(dir, "token");
    writeFileSync(file, "file-token-123\n");
    expect(readSecret({ file }, "auth.token")).toBe("file-token-123");
  });

  it("names the field, the file and the cause when the file cannot be read", () => {
    const file = join(dir, "missing");
    expect(() => readSecret({ file }, "auth.token")).toThrowError(`auth.token: cannot read ${file} (ENOENT)`);
    expect(() => readSecret({ file: dir }, "auth.token")).toThrowError(/\(EISDIR\)/);
  });
});

describe("Redactor", () => {
  it("masks every occurrence of every registered value", () => {
    const redactor = new Redactor().add("hunter2-pass", "tok_ABC.def*+?");
    expect(redactor.redact("pass=hunter2-pass token=tok_ABC.def*+? again hunter2-pass")).toBe(
      "pass=[redacted] token=[redacted] again [redacted]",
    );
  });

  it("ignores undefined and very short values so text stays readable", () => {
    const redactor = new Redactor().add(undefined, "", "abc");
    expect(redactor.redact("abc and a b c")).toBe("abc and a b c");
  });

  it("masks credentials in URLs without being told about them", () => {
    const redactor = new Redactor();
    expect(redactor.redact("fatal: unable to access 'https://user:ghp_xyz@github.com/o/r.git/'")).toBe(
      "fatal: unable to access 'https://[redacted]@github.com/o/r.git/'",
    );
    expect(redactor.redact("ssh://deploy@host/r.git and HTTP://t0k3n@h/x")).toBe(
      "ssh://[redacted]@host/r.git and HTTP://[redacted]@h/x",
    );
    expect(redactor.redact("https://github.com/o/r.git mail me@example.com")).toBe(
      "https://github.com/o/r.git mail me@example.com",
    );
  });

  it("masks overlapping secrets whole, and any of thousands, added later too", () => {
    const redactor = new Redactor().add("zabc", "abcdefg");
    // "zabc" starts first, but "abcdefg" overlaps it: neither may leave a part behind.
    expect(redactor.redact("[zabcdefg]")).toBe("[z[redacted]]");
    const many = Array.from({ length: 3000 }, (_, i) => `secret-${i}-${"x".repeat(i % 7)}`);
    redactor.add(...many);
    expect(redactor.redact(`a ${many[2999]} b ${many[5]} c zabc`)).toBe(
      "a [redacted] b [redacted] c [redacted]",
    );
  });

  it("leaves no part of a secret behind when one secret contains another", () => {
    // Registered short-first: masking the short one first would leave the long one's tail.
    const redactor = new Redactor().add("abcd", "abcdSECRETTAIL");
    const out = redactor.redact("token abcdSECRETTAIL and abcd");
    expect(out).not.toContain("SECRETTAIL");
    expect(out).toBe("token [redacted] and [redacted]");
  });
});

describe("publicRepoUrl", () => {
  it("strips credentials from a URL", () => {
    expect(publicRepoUrl("https://x-access-token:ghp_abc@github.com/o/r.git")).toBe(
      "https://github.com/o/r.git",
    );
    expect(publicRepoUrl("https://token@gitlab.com/o/r.git")).toBe("https://gitlab.com/o/r.git");
  });

  it("leaves URLs without credentials and scp-like remotes alone", () => {
    for (const url of [
      "https://github.com/o/r.git",
      "file:///srv/r.git",
      "git@github.com:o/r.git",
      "ssh://host/r.git",
    ]) {
      expect(publicRepoUrl(url)).toBe(url);
    }
  });

  it("strips a password with an unencoded @ whole, as the backend reads it (up to the last @)", () => {
    expect(publicRepoUrl("postgres://driftless:Pa@ssw0rd@db:5432/state")).toBe("postgres://db:5432/state");
    // Text that does not parse as a URL (a space in the host) loses everything up to the last @ too.
    expect(publicRepoUrl("postgres://driftless:Pa@ss@db host/state")).toBe("postgres://db host/state");
    expect(new Redactor().redact("dial postgres://driftless:Pa@ssw0rd@db:5432/state failed")).toBe(
      "dial postgres://[redacted]@db:5432/state failed",
    );
  });
});

describe("Redactor on hostile text", () => {
  it("masks the credentials of a URL whose scheme ends a long word of would-be schemes", () => {
    // A word of 64 KB that looks like the start of a scheme at every character;
    // how long masking it takes is measured by the masking benchmark, not here.
    const hostile = "a.".repeat(32 * 1024);
    const redactor = new Redactor().add("some-secret");
    expect(redactor.redact(`${hostile}://user:pw@host/`)).toBe(`${hostile}://[redacted]@host/`);
  });
});
