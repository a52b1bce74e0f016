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

/** Maps zod issues to messages that name the field and echo the value. */
export function specIssues(
  error: z.ZodError,
  input: unknown,
  prefix: readonly PropertyKey[] = [],
): SpecIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return {
        path: formatPath([...prefix, ...issue.path]),
        message: `has unknown field(s) ${issue.keys.join(", ")}`,
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
