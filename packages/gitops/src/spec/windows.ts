// Change windows: whether an `up` may run now (allow and deny windows), and when the next window opens.
import { Cron } from "croner";

/** Change windows with defaults resolved: cron expressions and how long each window stays open. */
export interface ResolvedWindows {
  /** Windows in which changes may be applied; empty means "always". */
  readonly allow: readonly string[];
  /** Windows in which no change is applied, even inside an allow window. */
  readonly deny: readonly string[];
  readonly durationMs: number;
  /** IANA time zone the cron expressions are read in. `undefined` = the process's. */
  readonly timezone: string | undefined;
}

/** Whether changes may be applied at a moment, and if not, why and when they may. */
export type WindowVerdict =
  | { readonly open: true }
  | {
      readonly open: false;
      /** `deny` when a deny window is open, `allow` when no allow window is. */
      readonly blockedBy: "allow" | "deny";
      /** When changes may next be applied; `undefined` when no window ever opens again. */
      readonly opensAt: Date | undefined;
    };

// Enough to step over a long run of back-to-back deny windows without
// searching forever when the windows never let anything through.
const MAX_STEPS = 1000;

/** The window of `expr` containing `at`: opened at a tick at most `durationMs` ago (end excluded). */
function windowAt(expr: string, at: Date, windows: ResolvedWindows): { end: Date } | undefined {
  const tick = cron(expr, windows.timezone).nextRun(new Date(at.getTime() - windows.durationMs));
  if (!tick || tick.getTime() > at.getTime()) return undefined;
  return { end: new Date(tick.getTime() + windows.durationMs) };
}

function cron(expr: string, timezone: string | undefined): Cron {
  return new Cron(expr, { paused: true, ...(timezone ? { timezone } : {}) });
}

/**
 * Decides whether a change may be applied at `now`: inside an allow window
 * (or no allow windows at all) and outside every deny window. When not, finds
 * the first moment that is.
 */
export function checkWindows(windows: ResolvedWindows, now: Date): WindowVerdict {
  const blockedAt = (at: Date): { by: "allow" | "deny"; next: Date | undefined } | undefined => {
    const denies = windows.deny.flatMap((expr) => windowAt(expr, at, windows) ?? []);
    if (denies.length > 0) {
      return { by: "deny", next: new Date(Math.max(...denies.map((d) => d.end.getTime()))) };
    }
    if (windows.allow.length === 0 || windows.allow.some((expr) => windowAt(expr, at, windows))) {
      return undefined;
    }
    const ticks = windows.allow.flatMap((expr) => cron(expr, windows.timezone).nextRun(at) ?? []);
    return {
      by: "allow",
      next: ticks.length > 0 ? new Date(Math.min(...ticks.map((t) => t.getTime()))) : undefined,
    };
  };
  const first = blockedAt(now);
  if (!first) return { open: true };
  let next = first.next;
  for (let step = 0; next && step < MAX_STEPS; step++) {
    const blocked = blockedAt(next);
    if (!blocked) return { open: false, blockedBy: first.by, opensAt: next };
    next = blocked.next;
  }
  return { open: false, blockedBy: first.by, opensAt: undefined };
}
