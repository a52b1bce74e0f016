import type { Writable } from "node:stream";
import type { ReconcilerEvents } from "../events.js";
import { resourceName } from "../run/report.js";

/**
 * Exit codes of the `driftless` command.
 *
 * - `0` success: the run succeeded, the preview found no changes, the server shut down cleanly.
 * - `1` failure: the run failed or stalled, bad configuration, an unknown target.
 * - `2` changes: `reconcile` of a detect-mode target found drift; `preview` found changes.
 * - `3` cancelled: the run was interrupted (Ctrl-C), or `serve` had to cancel runs at shutdown.
 * - `64` usage: unknown command or option.
 */
export const EXIT = { ok: 0, failed: 1, changes: 2, cancelled: 3, usage: 64 } as const;

/** Where a command writes: results to `out`, progress and errors to `err`. */
export interface CliIO {
  readonly out: Writable;
  readonly err: Writable;
}

/** Left-aligned columns separated by two spaces, with a header row. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** "12s ago", "3m ago", "2h ago", "4d ago" — compact ages for tables. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 129_600) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/** Seconds with one decimal between two ISO times, or "-". */
export function elapsed(from: string, to: string | undefined): string {
  return to ? `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s` : "-";
}

/** One line of run progress for stderr: the step, and resource events as the engine reports them. */
export function progressLine(event: ReconcilerEvents["run.progress"]): string {
  const engine = event.engine;
  if (engine?.kind === "resource") {
    const verb = engine.preview ? "plan " : engine.done ? "done " : "start";
    return `[engine] ${verb} ${engine.op} ${resourceName(engine.urn)} (${engine.type})`;
  }
  return `[${event.step}] ${event.message.trim()}`;
}
