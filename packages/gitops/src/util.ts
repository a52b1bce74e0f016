/**
 * Small helpers used across the package, each written once: hashing, stable
 * JSON, an abortable sleep, change-count text and commit SHA checks.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { ChangeCounts } from "./engine/types.js";

let yaml: typeof import("yaml") | undefined;

/**
 * The `yaml` package, loaded at its first use rather than with this package:
 * only engine runs, `driftless preview` and the configuration file read YAML,
 * and a process that only decides unchanged targets never does.
 */
export function yamlPackage(): typeof import("yaml") {
  yaml ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml;
}

/**
 * Whether two JSON values (plain objects, arrays, strings, numbers, booleans,
 * null) are equal, key order aside. Much cheaper than `isDeepStrictEqual` for
 * values read from JSON, which need none of its cases.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const key in x) {
    if (!Object.hasOwn(x, key)) continue;
    keys++;
    if (!Object.hasOwn(y, key) || !sameJson(x[key], y[key])) return false;
  }
  for (const key in y) if (Object.hasOwn(y, key)) keys--;
  return keys === 0;
}

/** Hex SHA-256 of a text or bytes. */
export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted, so equal values compare and hash equal whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Change counts in words for logs and status messages: `1 to update, 2 unchanged`. */
export function formatCounts(counts: ChangeCounts | undefined): string {
  if (!counts) return "no changes";
  const parts = (["create", "update", "replace", "delete"] as const)
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} to ${k}`);
  return parts.length > 0
    ? `${parts.join(", ")}, ${counts.same} unchanged`
    : `no changes (${counts.same} unchanged)`;
}

/** A full commit id: 40 hex digits (SHA-1) or 64 (SHA-256 repositories). */
export function isFullSha(text: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}

/** A commit id or an abbreviation of one, as people type it: 4 to 64 hex digits. */
export function isShaPrefix(text: string): boolean {
  return /^[0-9a-f]{4,64}$/.test(text);
}
