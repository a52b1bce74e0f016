// The zod schema of a target spec: every field's rule and the message a bad value gets.
import { isAbsolute, normalize } from "node:path";
import type { PulumiFn } from "@pulumi/pulumi/automation/index.js";
import { Cron } from "croner";
import { z } from "zod";
import { formatDuration, parseDuration } from "./duration.js";
import { schemaKeys } from "./specIssues.js";

const MIN_INTERVAL_MS = 10_000;
/** Field names of a target spec, nested ones included, for "did you mean" (computed once, when first needed). */
let knownTargetKeys: readonly string[] | undefined;
export function targetKeys(): readonly string[] {
  knownTargetKeys ??= schemaKeys(targetSchema);
  return knownTargetKeys;
}
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REPO_URL = /^(https?:\/\/[^\s]+|ssh:\/\/[^\s]+|file:\/\/\/?[^\s]+|[\w.-]+@[\w.-]+:[^\s]+)$/;
const STACK_NAME = /^([\w.-]+\/){0,2}[\w.-]+$/;
const CONFIG_KEY = /^([\w-]+:)?[\w.-]+$/;

const envSource = z.strictObject({
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
});
const fileSource = z.strictObject({ file: z.string().min(1, "must be a file path") });
const secretSource = z.union([z.string().min(1, "must not be empty"), envSource, fileSource], {
  error: 'must be a string, { env: "NAME" } or { file: "/path" }',
});

const duration = (min: number, what: string) =>
  z
    .union([z.string(), z.number()], { error: `must be a duration such as "30s", "5m" or "1h"` })
    .superRefine((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `must be a duration such as "30s", "5m" or "1h"` });
      } else if (ms < min) {
        ctx.addIssue({ code: "custom", message: `must be at least ${formatDuration(min)} (${what})` });
      }
    });

/** The schema a target spec is validated against (`resolveTarget` resolves the defaults). */
export const targetSchema = z.strictObject({
  name: z
    .string()
    .regex(DNS_LABEL, "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"),
  repo: z.string().regex(REPO_URL, "must be an https://, http://, ssh://, git@host:path or file:// URL"),
  ref: z
    .string()
    .regex(/^[\w./-]+$/, "must be a branch, tag or commit SHA")
    .refine((r) => !r.includes("..") && !r.startsWith("-") && !r.endsWith("/") && !r.endsWith(".lock"), {
      message: "is not a valid Git ref name",
    })
    .optional(),
  path: z
    .string()
    .refine((p) => !isAbsolute(p), { message: "must be relative to the repository root" })
    .refine((p) => !normalize(p).split(/[\\/]/).includes(".."), {
      message: "must stay inside the repository",
    })
    .optional(),
  stack: z.string().regex(STACK_NAME, "must be a stack name such as `dev` or `org/project/dev`"),
  program: z
    .custom<PulumiFn>((v) => typeof v === "function", { message: "must be a function (an inline program)" })
    .optional(),
  projectName: z
    .string()
    .regex(/^[\w.-]+$/, "must be letters, digits, '_', '.' or '-'")
    .optional(),
  backend: z
    .string()
    .regex(
      /^(file|s3|gs|azblob|https?|postgres(ql)?):\/\//,
      "must be a backend URL (file://, s3://, gs://, azblob://, https://, postgres://)",
    )
    .optional(),
  secretsProvider: z.string().min(1).optional(),
  passphrase: secretSource.optional(),
  config: z
    .record(
      z.string().regex(CONFIG_KEY, "is not a config key such as `name` or `project:name`"),
      z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" }),
    )
    .optional(),
  secretConfig: z.record(z.string().regex(CONFIG_KEY, "is not a config key"), secretSource).optional(),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "is not an environment variable name"), z.string())
    .optional(),
  inheritEnv: z
    .array(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/, "must be a variable name or a prefix ending in *"),
      {
        error: "must be a list of variable names",
      },
    )
    .optional(),
  mode: z.enum(["apply", "detect", "preview"], { error: "must be one of apply, detect, preview" }).optional(),
  refresh: z.boolean({ error: "must be true or false" }).optional(),
  interval: duration(MIN_INTERVAL_MS, "the shortest check interval").optional(),
  jitter: z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").optional(),
  schedule: z
    .string()
    .refine(isCron, { message: "is not a cron expression such as `*/15 * * * *`" })
    .optional(),
  resync: duration(MIN_INTERVAL_MS, "the shortest drift resync").optional(),
  timeout: duration(1000, "the shortest run timeout").optional(),
  suspend: z.boolean({ error: "must be true or false" }).optional(),
  gates: z
    .strictObject({
      maxDestructiveShare: z
        .number()
        .min(0, "must be between 0 and 1")
        .max(1, "must be between 0 and 1")
        .optional(),
      protectedTypes: z.array(z.string().min(1)).optional(),
      allowDestructive: z.boolean().optional(),
      allowEmpty: z.boolean().optional(),
    })
    .optional(),
  destroyOnRemove: z.boolean({ error: "must be true or false" }).optional(),
  auth: z
    .strictObject({
      token: secretSource.optional(),
      username: z.string().min(1).optional(),
      sshKeyPath: z.string().min(1).optional(),
      sshKey: z
        .union([envSource, fileSource], {
          error:
            'must be { file: "/path" } or { env: "NAME" } holding the key itself; a key file\'s path alone goes in `sshKeyPath`',
        })
        .optional(),
      knownHostsPath: z.string().min(1).optional(),
    })
    .refine((auth) => auth.sshKey === undefined || auth.sshKeyPath === undefined, {
      message: "must give `sshKey` or `sshKeyPath`, not both",
      path: ["sshKey"],
    })
    .optional(),
  dependsOn: z
    .array(z.string().regex(DNS_LABEL, "must be a target name"), { error: "must be a list of target names" })
    .refine((names) => new Set(names).size === names.length, { message: "must not name a target twice" })
    .optional(),
  windows: z
    .strictObject({
      allow: z.array(z.string().refine(isCron, { message: "is not a cron expression" })).optional(),
      deny: z.array(z.string().refine(isCron, { message: "is not a cron expression" })).optional(),
      duration: duration(1000, "the shortest change window"),
      timezone: z
        .string()
        .refine(isTimeZone, { message: "is not an IANA time zone such as `Europe/Berlin`" })
        .optional(),
    })
    .refine((w) => (w.allow?.length ?? 0) + (w.deny?.length ?? 0) > 0, {
      message: "must list at least one `allow` or `deny` window",
    })
    .optional(),
  requireApproval: z
    .union([z.boolean(), z.literal("destructive")], { error: 'must be true, false or "destructive"' })
    .optional(),
  approval: z
    .strictObject({ distinctFromAuthor: z.boolean({ error: "must be true or false" }).optional() })
    .optional(),
  watchPaths: z
    .array(
      z
        .string()
        .min(1, "must be a path")
        .refine((p) => !isAbsolute(p), { message: "must be relative to the repository root" })
        .refine((p) => !normalize(p).split(/[\\/]/).includes(".."), {
          message: "must stay inside the repository",
        }),
    )
    .optional(),
  reviewStacks: z
    .strictObject({
      stack: z
        .string()
        .regex(/^([\w.{}-]+\/){0,2}[\w.{}-]+$/, "must be a stack name template such as `pr-{number}`"),
      config: z
        .record(
          z.string().regex(CONFIG_KEY, "is not a config key such as `name` or `project:name`"),
          z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" }),
        )
        .optional(),
      ttl: duration(60_000, "the shortest review stack ttl").optional(),
      maxConcurrent: z
        .number({ error: "must be a whole number of at least 1" })
        .int("must be a whole number of at least 1")
        .min(1, "must be a whole number of at least 1")
        .optional(),
      paths: z
        .array(
          z
            .string()
            .min(1, "must be a path")
            .refine((p) => !isAbsolute(p), { message: "must be relative to the repository root" }),
        )
        .optional(),
    })
    .optional(),
  watch: z
    .union(
      [
        z.boolean(),
        z.strictObject({
          kubeconfig: z.union([envSource, fileSource], {
            error: 'must be { file: "/path" } or { env: "NAME" }',
          }),
        }),
      ],
      { error: 'must be true, false or { kubeconfig: { file: "/path" } | { env: "NAME" } }' },
    )
    .optional(),
  promote: z
    .strictObject({
      from: z.string().regex(DNS_LABEL, "must be a target name"),
      after: duration(0, "the soak time").optional(),
      requireHealthy: z.boolean({ error: "must be true or false" }).optional(),
    })
    .optional(),
});

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isCron(expr: string): boolean {
  try {
    new Cron(expr, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}
