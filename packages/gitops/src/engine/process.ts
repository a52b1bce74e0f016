import { randomUUID } from "node:crypto";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { delimiter, join } from "node:path";

/**
 * Whether a process of this host is still running. A killed process whose
 * parent died lingers as a zombie until init reaps it; it holds nothing, so it
 * counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
  } catch {
    // No /proc entry (or no /proc at all): fall back to signal 0.
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A new owner id for locks and runs: `<hostname>:<pid>:<uuid>`. The uuid tells
 * apart several owners in one process (two reconcilers sharing a store).
 */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}

/** The host and pid of an owner id made by {@link newOwnerId}; `undefined` for anything else. */
export function parseOwnerId(owner: string): { readonly host: string; readonly pid: number } | undefined {
  const match = /^(.+):(\d+):[^:]+$/.exec(owner);
  if (!match) return undefined;
  return { host: match[1] as string, pid: Number(match[2]) };
}

/** Whether an owner id names a process of this host. */
export function isLocalOwner(owner: string): boolean {
  return parseOwnerId(owner)?.host === hostname();
}

/**
 * Whether an owner is known to be gone: a process of this host that no longer
 * runs. An owner on another host (or an id of another form) cannot be probed
 * and is never reported gone.
 */
export function isOwnerDead(owner: string): boolean {
  const parsed = parseOwnerId(owner);
  return parsed !== undefined && parsed.host === hostname() && !isAlive(parsed.pid);
}

/**
 * Environment variable that marks every process one engine invocation starts:
 * the CLI sets it on its children and they on theirs, so the mark survives
 * re-parenting and new process groups. Its value is `<owner pid>:<uuid>`.
 */
export const ENGINE_TAG_ENV = "DRIFTLESS_ENGINE";

/** A new engine tag for one invocation, owned by this process. */
export function newEngineTag(): string {
  return `${process.pid}:${randomUUID()}`;
}

/** The owner pid of an engine tag made by {@link newEngineTag}. */
function tagOwner(tag: string): number | undefined {
  const pid = Number(tag.slice(0, tag.indexOf(":")));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A process of this host and the engine tag in its environment. */
export interface TaggedProcess {
  readonly pid: number;
  readonly tag: string;
}

/**
 * Live processes of this host whose environment carries an engine tag, read
 * from /proc (Linux). Empty where there is no /proc: elsewhere the processes
 * rely on noticing their parent's death alone.
 */
export function taggedProcesses(): TaggedProcess[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const prefix = `${ENGINE_TAG_ENV}=`;
  const found: TaggedProcess[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // gone meanwhile, or another user's
    }
    const at = environ.startsWith(prefix) ? 0 : environ.indexOf(`\0${prefix}`);
    if (at < 0) continue;
    const start = at === 0 ? prefix.length : at + 1 + prefix.length;
    const end = environ.indexOf("\0", start);
    if (isAlive(pid)) found.push({ pid, tag: environ.slice(start, end < 0 ? undefined : end) });
  }
  return found;
}

/**
 * SIGKILLs the processes an engine invocation left behind: those marked with
 * `tag`, or, without one, those whose owner process is gone (the leftovers of a
 * reconciler that was killed). Returns the pids signalled.
 */
export function killEngineProcesses(tag?: string): number[] {
  const doomed = taggedProcesses().filter((p) => {
    if (tag !== undefined) return p.tag === tag;
    const owner = tagOwner(p.tag);
    return owner !== undefined && owner !== process.pid && !isAlive(owner);
  });
  for (const { pid } of doomed) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
  return doomed.map((p) => p.pid);
}

let pdeathsigWrapper: string | null | undefined;
let reaper: string | null | undefined;

/**
 * The command line that starts `command` so the kernel kills it when this
 * process dies, SIGKILL included: `setpriv --pdeathsig KILL` (util-linux),
 * which sets the parent-death signal and then execs the command, so no extra
 * process stays around. Unchanged where setpriv is not installed.
 */
export function dieWithThisProcess(command: string, args: readonly string[]): [string, string[]] {
  if (pdeathsigWrapper === undefined) pdeathsigWrapper = findLinuxTool("setpriv");
  return pdeathsigWrapper
    ? [pdeathsigWrapper, ["--pdeathsig", "KILL", "--", command, ...args]]
    : [command, [...args]];
}

/**
 * The command line that starts `command` so that it and every process it
 * starts die with this process, SIGKILL included: `driftless-reaper` (built by
 * scripts/bootstrap.sh) runs it as a child, keeps its descendants below itself
 * as a child subreaper, and SIGKILLs them and its process group when this
 * process dies, so plugins that do not watch their parent die too. Start it as
 * a process group leader (`detached: true`); SIGINT and SIGTERM sent to it
 * reach the command, and it exits with the command's code (128+signal when the
 * command was killed by one). Falls back to {@link dieWithThisProcess} (which kills the
 * command alone) where the reaper is not on PATH.
 */
export function dieWithThisProcessTree(command: string, args: readonly string[]): [string, string[]] {
  if (reaper === undefined) reaper = findLinuxTool("driftless-reaper");
  return reaper ? [reaper, ["--", command, ...args]] : dieWithThisProcess(command, args);
}

/** An executable `name` on PATH (or /usr/bin, /bin) on Linux; `null` elsewhere or when missing. */
function findLinuxTool(name: string): string | null {
  if (process.platform !== "linux") return null;
  for (const dir of (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/bin"])) {
    const candidate = join(dir || ".", name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
