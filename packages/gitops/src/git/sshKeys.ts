// Private keys from a secret source, in files only while ssh needs them.
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSecret } from "../spec/secrets.js";
import type { SshKeySource } from "../spec/spec.js";

/** The key files of one data dir (`<dataDir>/ssh`): one per command that reaches the remote, removed when it ends. */
export class SshKeyFiles {
  readonly #dir: string;
  #swept = false;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Runs `work` with the key read from its source (now, so a rotated key
   * takes effect at once) in a file only this user can read, as ssh
   * requires; removed when `work` ends, however it ends.
   * @throws SecretUnavailableError when the source is unset, unreadable or empty
   */
  async with<T>(key: SshKeySource, work: (file: string) => Promise<T>): Promise<T> {
    const contents = readSecret(key, "auth.sshKey");
    if (!this.#swept) {
      this.#swept = true;
      sweepStaleKeys(this.#dir);
    }
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const file = join(this.#dir, `key-${randomUUID()}`);
    // ssh refuses a private key that does not end its last line.
    writeFileSync(file, `${contents}\n`, { mode: 0o600, flag: "wx" });
    try {
      return await work(file);
    } finally {
      rmSync(file, { force: true });
    }
  }
}

/** Removes the key files a process killed mid-command left: those written before this process started. */
function sweepStaleKeys(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(dir, name);
    try {
      if (name.startsWith("key-") && statSync(file).mtimeMs < performance.timeOrigin)
        rmSync(file, { force: true });
    } catch {
      // Gone already.
    }
  }
}
