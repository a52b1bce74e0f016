/**
 * One git process with a parent-death signal (see `dieWithThisProcess`), its
 * output as text, any non-zero exit a {@link GitExitError}. Started with
 * `execFile` directly: a process wrapper that waits for output a silent
 * command (`cat-file -e`, `merge-base --is-ancestor`, a quiet fetch) never
 * writes cost 50 ms per call, most of a checkout's time.
 */
import { execFile } from "node:child_process";
import { dieWithThisProcess } from "../engine/process.js";

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
  const [command, argv] = dieWithThisProcess("git", args);
  return new Promise((resolve, reject) => {
    execFile(
      command,
      argv,
      { cwd: options.cwd, env: options.env, maxBuffer: MAX_OUTPUT_BYTES, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = typeof error.code === "number" ? error.code : undefined;
        reject(code === undefined && !stderr ? error : new GitExitError(args, code, stderr));
      },
    );
  });
}
