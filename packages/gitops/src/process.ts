import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

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
