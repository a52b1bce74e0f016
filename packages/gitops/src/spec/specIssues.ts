/**
 * How spec problems are worded: zod issues turned into messages that name the
 * field by its dotted path and echo the value that was given.
 */
import type { z } from "zod";
import type { SpecIssue } from "../errors.js";

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** A value as shown in a message, cut short. */
export function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Dotted path with array indexes, e.g. `gates.protectedTypes[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}

/** Every field name an object schema (or one nested in it) knows: the words a typo is compared with. */
export function schemaKeys(schema: z.ZodType): string[] {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    const shape = def.shape as Record<string, unknown> | undefined;
    if (shape) {
      for (const key of Object.keys(shape)) keys.add(key);
      Object.values(shape).forEach(walk);
    }
    for (const value of Object.values(def)) walk(value);
  };
  walk(schema);
  return [...keys].sort();
}

/** Edit distance between two short words (insertions, deletions, substitutions, swaps). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const up = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known field an unknown one was probably meant to be (`intervall` → `interval`), if one is close. */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { word: string; score: number } | undefined;
  for (const word of known) {
    const score = distance(lower, word.toLowerCase());
    if (score <= Math.max(1, Math.floor(word.length / 4)) && (!best || score < best.score))
      best = { word, score };
  }
  return best?.word;
}

/**
 * Maps zod issues to messages that name the field and echo the value.
 * @param known - field names an unknown field is compared with, for a "did you mean"
 */
export function specIssues(
  error: z.ZodError,
  input: unknown,
  prefix: readonly PropertyKey[] = [],
  known: readonly string[] = [],
): SpecIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const named = issue.keys.map((key) => {
        const meant = didYouMean(key, known);
        return meant ? `${key} (did you mean \`${meant}\`?)` : key;
      });
      return {
        path: formatPath([...prefix, ...issue.path]),
        message: `has unknown field(s) ${named.join(", ")}`,
      };
    }
    if (issue.code === "invalid_key") {
      // The bad value is the key itself; zod's own message ("Invalid key in record")
      // would hide the rule and echo the entry's value instead.
      const reason = issue.issues[0]?.message ?? "is not allowed";
      return {
        path: formatPath([...prefix, ...issue.path.slice(0, -1)]),
        message: `has a key that ${reason}, got ${describe(issue.path.at(-1))}`,
      };
    }
    const value = valueAt(input, issue.path);
    const message = issue.message.startsWith("Invalid input") ? "is invalid" : issue.message;
    // A secret written into the file where a reference belongs is not echoed back.
    const secret = typeof value === "string" && message.includes("secrets are never written");
    const got =
      value === undefined
        ? "it is missing"
        : secret
          ? "got a value written into the file (not shown)"
          : `got ${describe(value)}`;
    return { path: formatPath([...prefix, ...issue.path]), message: `${message}, ${got}` };
  });
}
