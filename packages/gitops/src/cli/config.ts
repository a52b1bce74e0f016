// The service configuration file (`driftless.yaml`): parsing, validation with line numbers, and the targets it declares.
import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { SpecError, type SpecIssue } from "../errors.js";
import { isTemplate, type TargetTemplate, templateIssues } from "../git/discovery.js";
import type { PolicyOptions } from "../http/auth/policy.js";
import type { TokenOption } from "../http/auth/tokens.js";
import type { WebhookSecrets } from "../http/routes/webhooks.js";
import { NOTIFY_EVENTS, type NotifyProvider } from "../notify/notifier.js";
import type { ReplicaOptions } from "../replicas/replicas.js";
import { parseDuration } from "../spec/duration.js";
import { type OidcOptions, oidcSchema } from "../spec/oidc.js";
import {
  formatPath,
  resolveTarget,
  type SecretSource,
  schemaKeys,
  specIssues,
  type TargetSpec,
  targetKeys,
} from "../spec/spec.js";
import { isPostgresUrl, type PostgresConnection } from "../store/postgres/store.js";
import { yamlPackage } from "../util.js";
import { accessConfig } from "./authConfig.js";

/** A secret the config file points at; never the value itself, so the file can be shared and logged. */
export type SecretRef = { readonly env: string } | { readonly file: string };

/** The service configuration (`driftless.yaml`), validated, relative paths resolved against the file. */
export interface DriftlessConfig {
  /** The file it was read from. */
  readonly file: string;
  /** Directory for mirrors, worktrees, the default state backend and the status database. */
  readonly dataDir: string;
  /** Where `driftless serve` listens. */
  readonly listen: { readonly host: string; readonly port: number };
  /** API tokens: named ones with roles, or (the old form) bare `{ env }` / `{ file }` sources, each an `admin`. */
  readonly tokens: readonly TokenOption[];
  /** Who may do what (`roles`, `bindings`, `defaultRole`). */
  readonly policy: PolicyOptions;
  /** Webhook secrets by provider. */
  readonly webhooks: WebhookSecrets;
  /** Who may sign in: `oidc` is single sign-on for the dashboard through an OpenID Connect provider. */
  readonly auth: { readonly oidc?: OidcOptions };
  /** Serve the read API without a token. */
  readonly publicReads: boolean;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Most runs at once. */
  readonly concurrency: number;
  /** Install program dependencies when the lockfile changed. */
  readonly installDependencies: boolean;
  /**
   * Variables of the server's environment every target's engine, program and
   * installer receive besides the minimal set (a name or `PREFIX_*`); targets add their own.
   */
  readonly inheritEnv: readonly string[];
  /** Grace period for runs in progress at shutdown, in milliseconds. */
  readonly shutdownGraceMs: number;
  /** How long a cancelled engine gets to stop cleanly before it is killed (`cancelGrace`), in milliseconds. */
  readonly cancelGraceMs?: number;
  /**
   * The PostgreSQL store (`postgres://…`, or its parts with `password: { env }`
   * / `{ file }`); SQLite in `dataDir` when unset.
   */
  readonly store?: string | PostgresConnection;
  /**
   * `driftless serve` shares the targets with the other processes serving the
   * same store (`replicas: true`, or `{ leaseTtl, heartbeat, triggerPoll }` as
   * durations); unset: this process serves every target.
   */
  readonly replicas?: ReplicaOptions | true;
  /** Where statuses and notifications go (`notify:`), in order. */
  readonly notify: readonly NotifyProvider[];
  /** Pull request previews: `forks` previews pull requests from forks too (they get the target's secrets). */
  readonly pullRequests: { readonly forks: boolean };
  /** The targets, validated like {@link TargetSpec} (no inline `program`). */
  readonly targets: readonly TargetSpec[];
  /**
   * Target entries with `paths` (a directory glob such as `stacks/*`), expanded
   * into one target per project directory when the reconciler is created.
   */
  readonly discover: readonly TargetTemplate[];
}

/**
 * A configuration file failed to parse or validate. The message names the
 * file, the key path and the value, one problem per line, e.g.
 * `driftless.yaml: targets[1].interval must be at least 10s (…), got "5s"`.
 */
export class ConfigError extends SpecError {
  /** The file that was read. */
  readonly file: string;
  constructor(file: string, issues: readonly SpecIssue[]) {
    super(file, issues);
    this.file = file;
    const name = basename(file);
    this.message = issues.map((i) => `${name}: ${i.path ? `${i.path} ` : ""}${i.message}`).join("\n");
  }
}

const secretRef = z.union(
  [
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
    }),
    z.strictObject({ file: z.string().min(1, "must be a file path") }),
  ],
  { error: "must be { env: NAME } or { file: path }; secrets are never written into the config" },
);

const listenSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = String(value);
  const match = /^(?:(\[[0-9a-f:.]+\]|[\w.-]+):)?(\d{1,5})$/i.exec(text);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: "custom", message: 'must be "host:port" or a port number, such as "0.0.0.0:8080"' });
    return z.NEVER;
  }
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1"), port };
});

const storeSchema = z.union([
  z.string().refine(isPostgresUrl),
  z.strictObject({
    url: z.string().refine(isPostgresUrl).optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password: secretRef.optional(),
  }),
]);
const httpUrl = z
  .string({ error: "must be an http(s) URL" })
  .regex(/^https?:\/\/[^\s/]+/, "must be an http(s) URL such as https://gitea.example.com");
const notifyEvents = z
  .array(z.enum(NOTIFY_EVENTS, { error: `must be one of ${NOTIFY_EVENTS.join(", ")}` }))
  .optional();
const notifySchema = z.array(
  z.discriminatedUnion(
    "provider",
    [
      z.strictObject({
        provider: z.literal("github"),
        token: secretRef,
        baseUrl: httpUrl.optional(),
        webUrl: httpUrl.optional(),
        events: notifyEvents,
      }),
      z.strictObject({ provider: z.literal("gitea"), url: httpUrl, token: secretRef, events: notifyEvents }),
      z.strictObject({ provider: z.literal("slack"), url: secretRef, events: notifyEvents }),
      z.strictObject({
        provider: z.literal("webhook"),
        url: httpUrl,
        secret: secretRef,
        events: notifyEvents,
      }),
    ],
    { error: "needs `provider`: github, gitea, slack or webhook" },
  ),
  { error: "must be a list of providers" },
);

const duration = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== undefined, { message: 'must be a duration such as "30s"' });

const configSchema = z.strictObject({
  dataDir: z.string({ error: "must be a directory path" }).min(1, "must be a directory path"),
  listen: listenSchema.optional(),
  // Checked apart (accessConfig), with the policy they are bound in.
  tokens: z.unknown().optional(),
  roles: z.unknown().optional(),
  bindings: z.unknown().optional(),
  defaultRole: z.unknown().optional(),
  webhooks: z
    .strictObject({
      github: secretRef.optional(),
      gitlab: secretRef.optional(),
      generic: secretRef.optional(),
    })
    .optional(),
  auth: z
    .strictObject({ oidc: oidcSchema.optional() }, { error: "must be a mapping such as { oidc: … }" })
    .optional(),
  publicReads: z.boolean({ error: "must be true or false" }).optional(),
  maxBodyBytes: z.number().int("must be a whole number").min(1024, "must be at least 1024").optional(),
  concurrency: z.number().int("must be a whole number").min(1, "must be at least 1").optional(),
  installDependencies: z.boolean({ error: "must be true or false" }).optional(),
  inheritEnv: z
    .array(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/, "must be a variable name or a prefix ending in *"),
      {
        error: "must be a list of variable names",
      },
    )
    .optional(),
  shutdownGrace: duration.optional(),
  cancelGrace: duration.optional(),
  targets: z.array(z.unknown(), { error: "must be a list of targets" }).optional(),
  // Checked apart (storeSchema): its value may hold a password, which errors must not echo.
  store: z.unknown().optional(),
  replicas: z
    .union([
      z.literal(true),
      z.strictObject({
        leaseTtl: duration.optional(),
        heartbeat: duration.optional(),
        triggerPoll: duration.optional(),
      }),
    ])
    .optional(),
  notify: notifySchema.optional(),
  pullRequests: z
    .strictObject({ forks: z.boolean({ error: "must be true or false" }).optional() })
    .optional(),
});

/** `replicas:` of the file as {@link ReplicaOptions} (durations in milliseconds). */
function replicaOptions(
  replicas: true | { leaseTtl?: string | number; heartbeat?: string | number; triggerPoll?: string | number },
): ReplicaOptions | true {
  if (replicas === true) return true;
  const ms = (value: string | number | undefined) => (value === undefined ? undefined : parseDuration(value));
  const [leaseTtlMs, heartbeatMs, triggerPollMs] = [
    replicas.leaseTtl,
    replicas.heartbeat,
    replicas.triggerPoll,
  ].map(ms);
  return {
    ...(leaseTtlMs !== undefined ? { leaseTtlMs } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(triggerPollMs !== undefined ? { triggerPollMs } : {}),
  };
}

/** A provider with its `{ file }` secrets resolved against the config's directory. */
function anchorProvider(provider: NotifyProvider, base: string): NotifyProvider {
  switch (provider.provider) {
    case "github":
    case "gitea":
      return { ...provider, token: anchored(provider.token, base) };
    case "slack":
      return { ...provider, url: anchored(provider.url, base) };
    case "webhook":
      return { ...provider, secret: anchored(provider.secret, base) };
  }
}

/** Resolves a relative `{ file }` reference against the config's directory. */
function anchored<T extends SecretSource | undefined>(source: T, base: string): T {
  if (source && typeof source === "object" && "file" in source && !isAbsolute(source.file)) {
    return { file: resolve(base, source.file) } as T;
  }
  return source;
}

function anchorTarget(spec: Record<string, unknown>, base: string): TargetSpec {
  const out: Record<string, unknown> = { ...spec };
  if (out.passphrase !== undefined) out.passphrase = anchored(out.passphrase as SecretSource, base);
  if (out.secretConfig && typeof out.secretConfig === "object") {
    out.secretConfig = Object.fromEntries(
      Object.entries(out.secretConfig as Record<string, SecretSource>).map(([k, v]) => [
        k,
        anchored(v, base),
      ]),
    );
  }
  if (out.auth && typeof out.auth === "object") {
    const auth = { ...(out.auth as Record<string, unknown>) };
    if (auth.token !== undefined) auth.token = anchored(auth.token as SecretSource, base);
    if (auth.sshKey !== undefined) auth.sshKey = anchored(auth.sshKey as SecretSource, base);
    for (const key of ["sshKeyPath", "knownHostsPath"]) {
      if (typeof auth[key] === "string" && !isAbsolute(auth[key] as string))
        auth[key] = resolve(base, auth[key] as string);
    }
    out.auth = auth;
  }
  return out as unknown as TargetSpec;
}

/**
 * Parses and validates configuration text. Targets are checked with the same
 * rules as {@link resolveTarget}; relative paths are resolved against `baseDir`.
 * @throws ConfigError naming the file, key path and value of every problem.
 */
export function parseConfig(text: string, file: string, baseDir = dirname(resolve(file))): DriftlessConfig {
  const { LineCounter, parseDocument } = yamlPackage();
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return {
          path: "",
          message: `is not valid YAML at line ${line}, column ${col}: ${e.message.split("\n")[0]}`,
        };
      }),
    );
  }
  const input: unknown = doc.toJS();
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new ConfigError(file, [
      { path: "", message: "must be a mapping of settings (dataDir, targets, …)" },
    ]);
  }
  const parsed = configSchema.safeParse(input);
  const known = [...schemaKeys(configSchema), ...targetKeys()];
  const issues: SpecIssue[] = parsed.success ? [] : specIssues(parsed.error, input, [], known);
  const rawDataDir = (input as { dataDir?: unknown }).dataDir;
  const dataDir = resolve(baseDir, typeof rawDataDir === "string" ? rawDataDir : ".");
  const rawTargets = (input as { targets?: unknown }).targets;

  // Targets are checked even when top-level settings are wrong, so one pass reports every problem.
  const targets: TargetSpec[] = [];
  const discover: TargetTemplate[] = [];
  const names = new Map<string, number>();
  (Array.isArray(rawTargets) ? (rawTargets as unknown[]) : []).forEach((raw, index) => {
    const prefix: PropertyKey[] = ["targets", index];
    if (raw && typeof raw === "object" && "program" in raw) {
      issues.push({
        path: formatPath([...prefix, "program"]),
        message: "cannot be set in a config file (inline programs are for embedding)",
      });
      return;
    }
    const template = isTemplate(raw) ? (raw as TargetTemplate) : undefined;
    if (template) {
      for (const issue of templateIssues(template)) {
        issues.push({ path: `${formatPath(prefix)}.${issue.path}`, message: issue.message });
      }
      if ("path" in template) {
        issues.push({
          path: formatPath([...prefix, "path"]),
          message: "cannot be set with `paths` (each discovered target gets its directory)",
        });
      }
    }
    try {
      // A template is checked as the target it expands into, with a sample directory.
      const { paths: _p, sharedPaths: _s, ...rest } = (template ?? {}) as Partial<TargetTemplate>;
      resolveTarget(template ? { ...rest, path: "." } : raw, { dataDir });
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      for (const issue of error.issues) {
        issues.push({
          path: issue.path ? `${formatPath(prefix)}.${issue.path}` : formatPath(prefix),
          message: issue.message,
        });
      }
      return;
    }
    const spec = anchorTarget(raw as Record<string, unknown>, baseDir);
    const seen = names.get(spec.name);
    if (seen !== undefined) {
      issues.push({
        path: formatPath([...prefix, "name"]),
        message: `is already used by targets[${seen}], got ${JSON.stringify(spec.name)}`,
      });
      return;
    }
    names.set(spec.name, index);
    if (template) discover.push(spec as unknown as TargetTemplate);
    else targets.push(spec);
  });
  issues.push(...unknownDependencies(rawTargets, targets, names, discover.length > 0));
  const access = accessConfig(input as Record<string, unknown>, baseDir);
  issues.push(...access.issues);
  const store = storeSchema.safeParse((input as { store?: unknown }).store ?? "postgres://");
  if (!store.success) {
    issues.push({
      path: "store",
      message:
        "must be a postgres:// URL or { url, host, port, database, user, password: { env: NAME } or { file: path } }",
    });
  }
  if (!parsed.success || issues.length > 0) throw new ConfigError(file, issues);
  const config = {
    ...parsed.data,
    store: (input as { store?: unknown }).store === undefined ? undefined : store.data,
  };

  const webhooks = config.webhooks ?? {};
  return {
    file: resolve(file),
    dataDir,
    listen: config.listen ?? { host: "127.0.0.1", port: 8080 },
    tokens: access.config.tokens,
    policy: access.config.policy,
    webhooks: Object.fromEntries(
      Object.entries(webhooks).flatMap(([k, v]) => (v ? [[k, anchored(v as SecretRef, baseDir)]] : [])),
    ),
    auth: config.auth?.oidc
      ? { oidc: { ...config.auth.oidc, clientSecret: anchored(config.auth.oidc.clientSecret, baseDir) } }
      : {},
    publicReads: config.publicReads ?? false,
    maxBodyBytes: config.maxBodyBytes ?? 1024 * 1024,
    concurrency: config.concurrency ?? 2,
    installDependencies: config.installDependencies ?? true,
    inheritEnv: config.inheritEnv ?? [],
    shutdownGraceMs:
      config.shutdownGrace === undefined ? 30_000 : (parseDuration(config.shutdownGrace) as number),
    ...(config.cancelGrace !== undefined
      ? { cancelGraceMs: parseDuration(config.cancelGrace) as number }
      : {}),
    notify: (config.notify ?? []).map((p) => anchorProvider(p as NotifyProvider, baseDir)),
    pullRequests: { forks: config.pullRequests?.forks ?? false },
    targets,
    discover,
    ...(config.replicas !== undefined ? { replicas: replicaOptions(config.replicas) } : {}),
    ...(config.store !== undefined
      ? {
          store:
            typeof config.store === "string"
              ? config.store
              : {
                  ...config.store,
                  ...(config.store.password ? { password: anchored(config.store.password, baseDir) } : {}),
                },
        }
      : {}),
  };
}

/**
 * Reads and validates a configuration file; a relative `file` is resolved
 * against the current directory.
 * @throws ConfigError naming the file, key path and value of every problem.
 */
export function loadConfig(file: string): DriftlessConfig {
  // Against the caller's directory, and shown whole: "driftless.yaml cannot be
  // read" does not say which directory was looked in.
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(path, [
      { path: "", message: `cannot be read at ${path} (${(error as NodeJS.ErrnoException).code})` },
    ]);
  }
  return parseConfig(text, path);
}

/**
 * `dependsOn` entries that name no target of the file, reported with the
 * file's other problems (a name of a target whose own spec is wrong counts as
 * known). Targets that `paths:` discovers are named only at start, so with
 * discovery the check is left to `Reconciler.create`.
 */
function unknownDependencies(
  rawTargets: unknown,
  targets: readonly TargetSpec[],
  indexes: ReadonlyMap<string, number>,
  discovering: boolean,
): SpecIssue[] {
  if (discovering || !Array.isArray(rawTargets)) return [];
  const known = new Set(
    rawTargets.flatMap((t) => {
      const name = (t as { name?: unknown } | null)?.name;
      return typeof name === "string" ? [name] : [];
    }),
  );
  return targets.flatMap((spec) =>
    (spec.dependsOn ?? []).flatMap((dep, i) =>
      known.has(dep)
        ? []
        : [
            {
              path: `targets[${indexes.get(spec.name)}].dependsOn[${i}]`,
              message: `names an unknown target (known: ${[...known].sort().join(", ")}), got ${JSON.stringify(dep)}`,
            },
          ],
    ),
  );
}
