/**
 * What the dashboard says about a target: one state named after its
 * conditions (the same names as the API and CLI), the reason, and what it
 * waits for. Pure: the pages render what these return.
 */
import { condition } from "../../run/status.js";
import type { ConditionStatus, TargetStatus } from "../../types.js";
import { formatCounts } from "../../util.js";

/** A target's state in one word; `NotReady` is Ready=False, `Unknown` a target never run. */
export type DisplayState =
  | "Reconciling"
  | "Stalled"
  | "Drifted"
  | "Suspended"
  | "Ready"
  | "NotReady"
  | "Unknown";

/** Every state, in the order the overview counts them. */
export const STATES: readonly DisplayState[] = [
  "Ready",
  "Reconciling",
  "Drifted",
  "Stalled",
  "NotReady",
  "Suspended",
  "Unknown",
];

/** The state to show and its reason: a run in progress first, then trouble, then suspension, then health. */
export function displayState(
  status: TargetStatus,
  suspended: boolean,
): { readonly state: DisplayState; readonly reason: string; readonly message: string } {
  const on = (type: Parameters<typeof condition>[1]) => {
    const c = condition(status, type);
    return c?.status === true ? c : undefined;
  };
  const reconciling = on("Reconciling");
  if (reconciling) return { state: "Reconciling", reason: reconciling.reason, message: reconciling.message };
  const stalled = on("Stalled");
  if (stalled) return { state: "Stalled", reason: stalled.reason, message: stalled.message };
  const drifted = on("Drifted");
  if (drifted) return { state: "Drifted", reason: drifted.reason, message: drifted.message };
  if (suspended) return { state: "Suspended", reason: "Suspended", message: "scheduled runs are suspended" };
  const ready = condition(status, "Ready");
  if (!ready) return { state: "Unknown", reason: "NeverRun", message: "no run has finished yet" };
  return {
    state: ready.status === true ? "Ready" : "NotReady",
    reason: ready.reason,
    message: ready.message,
  };
}

/** A condition's status in words, as Kubernetes writes it: `True`, `False` or `Unknown`. */
export function conditionStatusText(status: ConditionStatus): "True" | "False" | "Unknown" {
  if (status === "Unknown") return "Unknown";
  return status ? "True" : "False";
}

/** What the target waits for (approval, change window, promotion soak, dependency), if anything. */
export function waitingFor(status: TargetStatus): string | undefined {
  if (status.awaitingApproval) {
    const held = status.awaitingApproval;
    return `approval of ${formatCounts(held.counts)} at ${held.revision.slice(0, 12)}`;
  }
  if (status.deferredUntil) return `change window opening ${status.deferredUntil}`;
  if (status.pendingPromotion) {
    const p = status.pendingPromotion;
    return `promotion of ${p.revision.slice(0, 12)}${p.dueAt ? ` after its soak, at ${p.dueAt}` : ""}${
      p.waitingFor ? ` (${p.waitingFor})` : ""
    }`;
  }
  const ready = condition(status, "Ready");
  if (ready && ready.status === false && ready.reason === "DependencyNotReady")
    return `dependency: ${ready.message}`;
  return undefined;
}

/** A short revision for display. */
export const short = (revision: string | undefined): string => (revision ? revision.slice(0, 12) : "—");

/** A duration in words: `850 ms`, `12.3 s`, `4 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** How long ago (or how soon) a time is, in words: `just now`, `3 min ago`, `in 2 h`, `5 days ago`. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  if (Number.isNaN(ms)) return iso;
  if (abs < 45_000) return ms >= 0 ? "in a moment" : "just now";
  const [amount, unit] =
    abs < 3_600_000
      ? [Math.round(abs / 60_000), "min"]
      : abs < 86_400_000
        ? [Math.round(abs / 3_600_000), "h"]
        : [Math.round(abs / 86_400_000), Math.round(abs / 86_400_000) === 1 ? "day" : "days"];
  return ms >= 0 ? `in ${amount} ${unit}` : `${amount} ${unit} ago`;
}

/** A time as a page shows it: relative, then absolute with its time zone (UTC; the script shows the reader's). */
export function timeText(iso: string, now: number = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${relativeTime(iso, now)} (${at.toISOString().slice(0, 16).replace("T", " ")} UTC)`;
}

/** Where a commit is shown on its Git host, for repositories on hosts whose commit pages are known. */
export function commitUrl(repo: string, revision: string): string | undefined {
  const match =
    /^(?:https?:\/\/(?:[^@/\s]+@)?|ssh:\/\/[^@/\s]+@|[\w.-]+@)([\w.-]+)(?::\d+)?[:/]([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/i.exec(
      repo,
    );
  if (!match || !/^[0-9a-f]{7,64}$/i.test(revision)) return undefined;
  const host = (match[1] as string).toLowerCase();
  const path = match[2] as string;
  if (host === "github.com" || host === "codeberg.org" || host === "gitea.com")
    return `https://${host}/${path}/commit/${revision}`;
  if (host === "gitlab.com") return `https://${host}/${path}/-/commit/${revision}`;
  if (host === "bitbucket.org") return `https://${host}/${path}/commits/${revision}`;
  return undefined;
}
