// Finds the processes a test started, directly or not, from /proc: those whose
// command line, working directory or environment names one of the test's
// directories (every engine process inherits PULUMI_HOME from its sandbox),
// those carrying an engine tag, and the descendants of given roots.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A live process, as `ps` would show it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** Seconds since the epoch. */
  readonly startedAt: number;
  readonly command: string;
  /** Why it matched. */
  readonly reason: string;
}

/** What to look for; a process matching any of it is listed. */
export interface ProcessQuery {
  /** Paths: a process whose command line, cwd or environment contains one matches. */
  readonly paths?: readonly string[];
  /** Environment variable names: a process whose environment sets one matches. */
  readonly env?: readonly string[];
  /** Pids whose descendants (and themselves) match while the chain is intact. */
  readonly roots?: readonly number[];
  /** Only processes started at or after this time (seconds since the epoch). */
  readonly startedAfter?: number;
}

const CLOCK_TICKS = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

function bootTime(): number {
  const line = /^btime (\d+)$/m.exec(read("/proc/stat") ?? "");
  return line ? Number(line[1]) : 0;
}

/** Live (not zombie) processes matching the query, except this one. */
export function findProcesses(query: ProcessQuery): ProcessInfo[] {
  const boot = bootTime();
  const all = new Map<number, { ppid: number; startedAt: number; command: string; reason?: string }>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") continue;
    const ppid = Number(fields[1]);
    const startedAt = boot + Number(fields[19]) / CLOCK_TICKS;
    const command = (read(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ").trim();
    const environ = read(`/proc/${pid}/environ`) ?? "";
    let cwd = "";
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // another user's, or gone
    }
    let reason: string | undefined;
    for (const path of query.paths ?? []) {
      if (command.includes(path)) reason = `command line names ${path}`;
      else if (cwd.startsWith(path)) reason = `runs in ${cwd}`;
      else if (environ.includes(path)) reason = `environment names ${path}`;
      if (reason) break;
    }
    for (const name of query.env ?? []) {
      if (!reason && (environ.startsWith(`${name}=`) || environ.includes(`\0${name}=`))) {
        reason = `environment sets ${name}`;
      }
    }
    all.set(pid, { ppid, startedAt, command, ...(reason ? { reason } : {}) });
  }
  const roots = new Set(query.roots ?? []);
  const descends = (pid: number): number | undefined => {
    for (let at: number | undefined = pid, hops = 0; at && hops < 64; hops++) {
      if (roots.has(at)) return at;
      at = all.get(at)?.ppid;
    }
    return undefined;
  };
  const found: ProcessInfo[] = [];
  for (const [pid, info] of all) {
    if (query.startedAfter !== undefined && info.startedAt < query.startedAfter) continue;
    const root = roots.size > 0 ? descends(pid) : undefined;
    const reason = info.reason ?? (root !== undefined ? `descends from ${root}` : undefined);
    if (reason)
      found.push({ pid, ppid: info.ppid, startedAt: info.startedAt, command: info.command, reason });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** One line per process, for an assertion message. */
export function describeProcesses(processes: readonly ProcessInfo[]): string {
  return processes
    .map((p) => `  pid ${p.pid} (ppid ${p.ppid}): ${p.command.slice(0, 200)} [${p.reason}]`)
    .join("\n");
}

/**
 * Waits up to `timeoutMs` for every matching process to exit and resolves what
 * is still running then (empty when all are gone).
 */
export async function leftoverProcesses(query: ProcessQuery, timeoutMs = 10_000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = findProcesses(query);
    if (found.length === 0 || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
