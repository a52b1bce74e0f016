// Durations as people write them (`"90s"`, `"1h30m"`): parsing and formatting.
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as milliseconds, or a string such as `"90s"`, `"5m"`, `"1h30m"`, `"250ms"`. */
export type Duration = number | string;

/**
 * Parses a {@link Duration} into milliseconds; `undefined` for anything else so
 * callers can report the field and value in their own words.
 */
export function parseDuration(value: Duration): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, , unit] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * (UNITS[unit as string] as number);
  }
  return total;
}

/** Formats milliseconds the way {@link parseDuration} reads them, for messages. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
