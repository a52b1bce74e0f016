/**
 * Target specs: the shape a user writes (`TargetSpec`), its validation (the
 * schema is in `targetSchema.ts`), and `resolveTarget`, which fills in every
 * default (`ResolvedTarget`).
 */
import { normalize } from "node:path";
import type { PulumiFn } from "@pulumi/pulumi/automation/index.js";
import { SpecError } from "../errors.js";
import { type Duration, parseDuration } from "./duration.js";
import {
  type ResolvedReviewStacks,
  type ReviewOf,
  type ReviewStackOptions,
  templateIssues,
} from "./reviewStacks.js";
import { describe, specIssues } from "./specIssues.js";
import { targetKeys, targetSchema } from "./targetSchema.js";
import type { ResolvedWindows } from "./windows.js";

export { formatPath, schemaKeys, specIssues } from "./specIssues.js";
export { targetKeys } from "./targetSchema.js";

/** What a run does after the preview. */
export type ReconcileMode = "apply" | "detect" | "preview";

/** A secret value given inline (tests, embedding) or read from an environment variable at run time. */
export type SecretSource = string | { readonly env: string } | { readonly file: string };

/** Where an SSH private key comes from: a file, or an environment variable holding its contents. */
export type SshKeySource = { readonly env: string } | { readonly file: string };

/** Credentials for the Git remote. Tokens are passed to git through its environment, never written to disk. */
export interface GitAuth {
  /** HTTPS token (GitHub, GitLab, Gitea …), sent as HTTP basic auth. */
  readonly token?: SecretSource;
  /** User name paired with {@link token}. @default "x-access-token" */
  readonly username?: string;
  /**
   * Private key file for SSH remotes, given to ssh as it is (ssh ignores a
   * key file that others can read). Or use {@link sshKey}, not both.
   */
  readonly sshKeyPath?: string;
  /**
   * Private key for SSH remotes from a secret source: `{ file: "/path" }`
   * (a mounted secret, whatever its mode) or `{ env: "NAME" }` holding the
   * key's contents. Read when git needs it and written to a file only ssh
   * reads (mode 0600, under the data directory), removed once git is done.
   * @default - {@link sshKeyPath}, else ssh's own keys
   */
  readonly sshKey?: SshKeySource;
  /** Known-hosts file for SSH remotes. @default - ssh's own, accepting new hosts */
  readonly knownHostsPath?: string;
}

/** Safety gates checked between preview and `up`. */
export interface GateOptions {
  /** Refuse when deletes + replaces exceed this share of the stack's resources. @default 0.5 */
  readonly maxDestructiveShare?: number;
  /**
   * Resource types that are never deleted or replaced without {@link allowDestructive}.
   * `*` matches any run of characters.
   * @default DEFAULT_PROTECTED_TYPES
   */
  readonly protectedTypes?: readonly string[];
  /** Let this target delete or replace protected types and exceed the share. @default false */
  readonly allowDestructive?: boolean;
  /** Let an empty program delete every resource of a non-empty stack. @default false */
  readonly allowEmpty?: boolean;
}

/** Types whose loss is costly: databases, buckets, namespaces. */
export const DEFAULT_PROTECTED_TYPES: readonly string[] = [
  "kubernetes:core/v1:Namespace",
  "kubernetes:core/v1:PersistentVolumeClaim",
  "aws:rds/*",
  "aws:s3/bucket:*",
  "aws:s3/bucketV2:*",
  "aws:dynamodb/table:*",
];

/**
 * When changes may be applied. A window opens at each tick of a cron
 * expression and stays open for {@link duration}.
 */
export interface ChangeWindows {
  /** Windows in which changes may be applied. @default [] - always, unless denied */
  readonly allow?: readonly string[];
  /** Windows in which no change is applied, even inside an allow window. @default [] */
  readonly deny?: readonly string[];
  /** How long each window stays open after its cron tick (at least `1s`). */
  readonly duration: Duration;
  /** IANA time zone for the cron expressions, e.g. `Europe/Berlin`. @default - the process's time zone */
  readonly timezone?: string;
}

/**
 * Environment promotion: the target applies the revisions another target (for
 * example staging) applied successfully, once they have stayed applied for
 * the soak time, instead of following its own ref.
 */
export interface PromotionPolicy {
  /** The upstream target whose applied revisions this one follows; same repository. */
  readonly from: string;
  /** How long the upstream must have kept a revision applied before it is promoted. @default "0s" */
  readonly after?: Duration;
  /**
   * Promote only while the upstream is healthy: Ready, not stalled and not
   * drifted, for the whole soak time. @default true
   */
  readonly requireHealthy?: boolean;
}

/** A {@link PromotionPolicy} with defaults resolved. */
export interface ResolvedPromotion {
  readonly from: string;
  readonly afterMs: number;
  readonly requireHealthy: boolean;
}

/** The desired state of one Pulumi stack, as the user writes it. */
export interface TargetSpec {
  /** Unique name, DNS-label-like (`[a-z0-9-]`, at most 63 characters). */
  readonly name: string;
  /** Git remote: `https://…`, `http://…`, `ssh://…`, `git@host:path` or `file://…`. */
  readonly repo: string;
  /** Branch, tag (`refs/tags/v1`) or full commit SHA. @default "main" */
  readonly ref?: string;
  /** Directory of the Pulumi project inside the repository; must stay inside it. @default "." */
  readonly path?: string;
  /** Stack name (for example `dev` or `org/dev`). */
  readonly stack: string;
  /**
   * An inline program for embedded use instead of the project in {@link path}.
   * The checkout still provides the revision and files the program may read.
   */
  readonly program?: PulumiFn;
  /** Project name for an inline {@link program}. @default - the target name */
  readonly projectName?: string;
  /**
   * State backend URL.
   * @default `file://<dataDir>/state`; with a PostgreSQL store, the store's database (table `pulumi_state`)
   */
  readonly backend?: string;
  /** Secrets provider for new stacks. @default "passphrase" */
  readonly secretsProvider?: string;
  /** Passphrase for the passphrase secrets provider. @default { env: "PULUMI_CONFIG_PASSPHRASE" } */
  readonly passphrase?: SecretSource;
  /** Plain stack configuration, set before every run. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /** Secret stack configuration, stored encrypted. */
  readonly secretConfig?: Readonly<Record<string, SecretSource>>;
  /** Environment for the engine and the program. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Variables of the reconciler's own environment this target's engine,
   * program and dependency installer receive besides the minimal set
   * (`PATH`, `HOME`, locale, proxies, `PULUMI_*`, what the backend needs): a
   * name or a prefix ending in `*` (`["AWS_*", "KUBECONFIG"]`); `["*"]`
   * passes everything (the behaviour before this option existed).
   * @default [] - plus the reconciler's `inheritEnv`
   */
  readonly inheritEnv?: readonly string[];
  /** `apply` corrects drift; `detect` only reports it; `preview` only plans. @default "apply" */
  readonly mode?: ReconcileMode;
  /** Refresh from the real infrastructure before the preview (drift detection). @default true */
  readonly refresh?: boolean;
  /** How often to look for a new revision. @default "5m" (minimum "10s") */
  readonly interval?: Duration;
  /** Random extra delay as a share of the interval, to spread load. @default 0.1 */
  readonly jitter?: number;
  /** Optional cron expression (5 or 6 fields) that triggers runs in addition to the interval. */
  readonly schedule?: string;
  /** How often to refresh and preview an unchanged revision to find drift. @default "30m" */
  readonly resync?: Duration;
  /** Longest a run may take before it is cancelled through the engine. @default "30m" */
  readonly timeout?: Duration;
  /** Stop scheduling runs (manual runs still work). @default false */
  readonly suspend?: boolean;
  /** Safety gates checked before `up`. */
  readonly gates?: GateOptions;
  /** Destroy the stack when the target is removed. @default false */
  readonly destroyOnRemove?: boolean;
  /** Credentials for the Git remote. */
  readonly auth?: GitAuth;
  /**
   * Targets that must be applied before this one. A run waits (status reason
   * `DependencyNotReady`) while a dependency is not Ready or still has a run
   * queued; a dependency whose outputs change queues this target; each
   * dependency's outputs reach this target's program as plain config
   * `deps.<dependency>.<output>` (non-string values JSON-encoded).
   * Unknown names and cycles are refused when targets are added.
   * @default []
   */
  readonly dependsOn?: readonly string[];
  /**
   * Change windows: an `up` outside every allow window or inside a deny window
   * waits (result `deferred`, reason `OutsideChangeWindow`) until the window
   * opens, unless the run is started with an `override`.
   * @default - changes may be applied at any time
   */
  readonly windows?: ChangeWindows;
  /**
   * Hold an `up` for a person: `true` holds every plan with changes,
   * `"destructive"` only plans that delete or replace. The run stops after the
   * preview as `awaiting-approval`; `Reconciler.approve` applies that plan.
   * @default false
   */
  readonly requireApproval?: boolean | "destructive";
  /**
   * Who may approve: with `distinctFromAuthor`, not the author (or committer)
   * of the held revision, matched by email, nor the identity that requested
   * the run (four eyes; enforced where identities are known, the HTTP API
   * and dashboard).
   * @default { distinctFromAuthor: false }
   */
  readonly approval?: { readonly distinctFromAuthor?: boolean };
  /**
   * Paths outside {@link path}, relative to the repository root, whose changes
   * also concern this target when a push webhook lists changed files (shared
   * code such as `lib/`). @default []
   */
  readonly watchPaths?: readonly string[];
  /**
   * Follow another target's applied revisions instead of {@link ref}
   * (staging → prod). Promotions are recorded; `Reconciler.promote` and
   * `Reconciler.rollback` move the target by hand.
   * @default - the target follows its own ref
   */
  readonly promote?: PromotionPolicy;
  /**
   * Review stacks: every pull request that concerns the target (same rules as
   * previews) gets a stack of its own in the target's backend, applied on
   * each push and destroyed when it closes (see the README's "Review stacks").
   * @default - pull requests are previewed only
   */
  readonly reviewStacks?: ReviewStackOptions;
  /**
   * Watch the Kubernetes objects the stack manages and check drift within
   * seconds of a change (a refresh of only the changed objects): `false`
   * turns it off; `{ kubeconfig }` names the cluster when the stack's
   * Kubernetes provider has no kubeconfig input (a default provider). Targets
   * without Kubernetes objects are never watched; `resync` runs either way.
   * @default true - the cluster of the stack's Kubernetes provider
   */
  readonly watch?: boolean | WatchOptions;
}

/** How a target's Kubernetes objects are watched (see {@link TargetSpec.watch}). */
export interface WatchOptions {
  /** The kubeconfig to watch with: a file, or an environment variable holding a path or the contents. */
  readonly kubeconfig: { readonly file: string } | { readonly env: string };
}

/** A {@link TargetSpec} with every default resolved. */
export interface ResolvedTarget {
  readonly name: string;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly stack: string;
  readonly program: PulumiFn | undefined;
  readonly projectName: string | undefined;
  readonly backend: string;
  readonly secretsProvider: string;
  readonly passphrase: SecretSource;
  readonly config: Readonly<Record<string, string>>;
  readonly secretConfig: Readonly<Record<string, SecretSource>>;
  readonly env: Readonly<Record<string, string>>;
  readonly inheritEnv: readonly string[];
  readonly mode: ReconcileMode;
  readonly refresh: boolean;
  readonly intervalMs: number;
  readonly jitter: number;
  readonly schedule: string | undefined;
  readonly resyncMs: number;
  readonly timeoutMs: number;
  readonly suspend: boolean;
  readonly gates: Required<GateOptions>;
  readonly destroyOnRemove: boolean;
  readonly auth: GitAuth;
  readonly dependsOn: readonly string[];
  readonly windows: ResolvedWindows | undefined;
  readonly requireApproval: "never" | "always" | "destructive";
  readonly approval: { readonly distinctFromAuthor: boolean };
  readonly watchPaths: readonly string[];
  readonly promote: ResolvedPromotion | undefined;
  readonly reviewStacks?: ResolvedReviewStacks | undefined;
  /** Set on the target a pull request's review stack runs as: its base target and pull request. */
  readonly review?: ReviewOf;
  /** Whether the target's Kubernetes objects are watched, and the kubeconfig given for it. */
  readonly watch: { readonly enabled: boolean; readonly kubeconfig?: WatchOptions["kubeconfig"] };
}

/**
 * Validates a target spec and resolves its defaults.
 * @throws SpecError naming each bad field and its value.
 */
export function resolveTarget(
  input: unknown,
  defaults: { readonly dataDir: string; readonly backend?: string | undefined },
): ResolvedTarget {
  const name =
    input !== null && typeof input === "object" && typeof (input as { name?: unknown }).name === "string"
      ? (input as { name: string }).name
      : undefined;
  const subject = name ? `target "${name}"` : "target";
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new SpecError(subject, [{ path: "", message: `must be an object, got ${describe(input)}` }]);
  }
  const parsed = targetSchema.safeParse(input);
  if (!parsed.success) throw new SpecError(subject, specIssues(parsed.error, input, [], targetKeys()));
  const spec = parsed.data;
  const review = spec.reviewStacks;
  if (review) {
    const issues = templateIssues(review.stack, spec.stack);
    if (issues.length > 0) {
      throw new SpecError(
        subject,
        issues.map((message) => ({ path: "reviewStacks.stack", message })),
      );
    }
  }
  const intervalMs = parseDuration(spec.interval ?? "5m") as number;
  return {
    name: spec.name,
    repo: spec.repo,
    ref: spec.ref ?? "main",
    path: normalize(spec.path ?? "."),
    stack: spec.stack,
    program: spec.program,
    projectName: spec.projectName ?? (spec.program ? spec.name : undefined),
    backend: spec.backend ?? defaults.backend ?? `file://${defaults.dataDir}/state`,
    secretsProvider: spec.secretsProvider ?? "passphrase",
    passphrase: spec.passphrase ?? { env: "PULUMI_CONFIG_PASSPHRASE" },
    config: Object.fromEntries(Object.entries(spec.config ?? {}).map(([k, v]) => [k, String(v)])),
    secretConfig: spec.secretConfig ?? {},
    env: spec.env ?? {},
    inheritEnv: spec.inheritEnv ?? [],
    mode: spec.mode ?? "apply",
    refresh: spec.refresh ?? true,
    intervalMs,
    jitter: spec.jitter ?? 0.1,
    schedule: spec.schedule,
    resyncMs: parseDuration(spec.resync ?? "30m") as number,
    timeoutMs: parseDuration(spec.timeout ?? "30m") as number,
    suspend: spec.suspend ?? false,
    gates: {
      maxDestructiveShare: spec.gates?.maxDestructiveShare ?? 0.5,
      protectedTypes: spec.gates?.protectedTypes ?? DEFAULT_PROTECTED_TYPES,
      allowDestructive: spec.gates?.allowDestructive ?? false,
      allowEmpty: spec.gates?.allowEmpty ?? false,
    },
    destroyOnRemove: spec.destroyOnRemove ?? false,
    auth: spec.auth ?? {},
    dependsOn: spec.dependsOn ?? [],
    windows: spec.windows
      ? {
          allow: spec.windows.allow ?? [],
          deny: spec.windows.deny ?? [],
          durationMs: parseDuration(spec.windows.duration) as number,
          timezone: spec.windows.timezone,
        }
      : undefined,
    requireApproval:
      spec.requireApproval === "destructive" ? "destructive" : spec.requireApproval ? "always" : "never",
    approval: { distinctFromAuthor: spec.approval?.distinctFromAuthor ?? false },
    watchPaths: spec.watchPaths ?? [],
    promote: spec.promote
      ? {
          from: spec.promote.from,
          afterMs: parseDuration(spec.promote.after ?? 0) as number,
          requireHealthy: spec.promote.requireHealthy ?? true,
        }
      : undefined,
    reviewStacks: review
      ? {
          stack: review.stack,
          config: Object.fromEntries(Object.entries(review.config ?? {}).map(([k, v]) => [k, String(v)])),
          ttlMs: review.ttl === undefined ? undefined : parseDuration(review.ttl),
          maxConcurrent: review.maxConcurrent ?? 5,
          paths: review.paths,
        }
      : undefined,
    watch:
      spec.watch === false
        ? { enabled: false }
        : typeof spec.watch === "object"
          ? { enabled: true, kubeconfig: spec.watch.kubeconfig }
          : { enabled: true },
  };
}
