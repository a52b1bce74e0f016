/** Cron macros Kubernetes accepts in place of five fields. */
export const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  // 7 is Sunday as well, as in Vixie cron and the Kubernetes controller.
  { name: "day of week", min: 0, max: 7, names: DAYS },
];

/**
 * Checks a CronJob schedule: five fields (minute hour day-of-month month
 * day-of-week), each `*`, a value, a range `a-b`, a step `x/n`, or a comma list
 * of those; month and weekday names (`JAN`, `MON`), `?` for either day field;
 * or one of the {@link CRON_MACROS}.
 *
 * @returns `undefined` when valid, else the reason it is not.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
 */
export function cronProblem(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  if (trimmed.startsWith("@")) {
    return trimmed in CRON_MACROS
      ? undefined
      : `is not a known macro (${Object.keys(CRON_MACROS).join(", ")})`;
  }
  if (/^(CRON_)?TZ=/.test(trimmed)) return "must not set a time zone inline; use `timeZone`";
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5)
    return `must have 5 fields (minute hour day-of-month month day-of-week), has ${parts.length}`;
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i] as CronField;
    const problem = fieldProblem(part, field);
    if (problem !== undefined) return `has an invalid ${field.name} field \`${part}\`: ${problem}`;
  }
  return undefined;
}

function fieldProblem(text: string, field: CronField): string | undefined {
  if (text === "?" && (field.name === "day of month" || field.name === "day of week")) return undefined;
  for (const item of text.split(",")) {
    if (item === "") return "has an empty list item";
    const [range = "", step, extra] = item.split("/");
    if (extra !== undefined) return `\`${item}\` has more than one \`/\``;
    if (step !== undefined && !/^\d+$/.test(step)) return `step \`${step}\` is not a number`;
    if (step !== undefined && Number(step) === 0) return "step must be at least 1";
    if (range === "*") continue;
    const [low = "", high, more] = range.split("-");
    if (more !== undefined) return `\`${range}\` is not a range`;
    const from = value(low, field);
    if (typeof from === "string") return from;
    if (high === undefined) continue;
    const to = value(high, field);
    if (typeof to === "string") return to;
    if (from > to) return `range \`${range}\` runs backwards`;
  }
  return undefined;
}

function value(text: string, field: CronField): number | string {
  const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + field.min;
  if (!/^\d+$/.test(text)) return `\`${text}\` is not a number${field.names ? " or name" : ""}`;
  const n = Number(text);
  if (n < field.min || n > field.max) return `${n} is outside ${field.min}-${field.max}`;
  return n;
}
