/**
 * One git process with a parent-death signal (util-linux's `setpriv`, which
 * execs git; `sh <gitops>/libexec/git.sh` decides the same where `setpriv`
 * is not found on PATH), its output as text, any non-zero exit a
 * {@link GitExitError}. Started with `execFile` directly: a process wrapper
 * that waits for output a silent command (`cat-file -e`, `merge-base
 * --is-ancestor`, a quiet fetch) never writes cost 50 ms per call, most of a
 * checkout's time.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** `sh <gitops>/libexec/git.sh`: git with a parent-death signal, from src/ and dist/ alike. */
const GUARDED_GIT = fileURLToPath(new URL("../libexec/git.sh", import.meta.url));

let guarded: readonly string[] | undefined;
/** The command line before git's arguments: `setpriv` directly (one exec less per call) or the script. */
function guardedGit(): readonly string[] {
  guarded ??= (process.env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, "setpriv")))
    ? ["setpriv", "--pdeathsig", "KILL", "--", "git"]
    : ["sh", GUARDED_GIT];
  return guarded;
}

/** Output larger than this fails the command rather than filling memory. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** git exited with a non-zero status; `cat-file -e` and `merge-base --is-ancestor` answer "no" this way. */
export class GitExitError extends Error {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | undefined, stderr: string) {
    // The arguments never hold credentials: tokens reach git through its environment.
    super(`git ${args[0] ?? ""} exited with ${exitCode ?? "a signal"}${stderr ? `\n${stderr.trim()}` : ""}`);
    this.name = "GitExitError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Runs git in `cwd` with exactly `env` (nothing else inherited); resolves its standard output. */
export function runGit(
  args: readonly string[],
  options: { readonly cwd: string; readonly env: Readonly<Record<string, string>> },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = guardedGit();
    execFile(
      command as string,
      [...prefix, ...args],
      { cwd: options.cwd, env: options.env, maxBuffer: MAX_OUTPUT_BYTES, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = typeof error.code === "number" ? error.code : undefined;
        reject(code === undefined && !stderr ? error : new GitExitError(args, code, stderr));
      },
    );
  });
}
