/**
 * The reconciler's public option types and `resolveOptions`, which validates
 * them and fills in the defaults: the real store, engine, source, logger, and
 * the clock and randomness that tests may replace.
 */
import { join, resolve } from "node:path";
import { type Logger, pino } from "pino";
import { PulumiEngine } from "./engine/engine.js";
import type { TypeCheck } from "./engine/typecheck.js";
import type { Engine, Plan } from "./engine/types.js";
import { SpecError } from "./errors.js";
import type { TargetTemplate } from "./git/discovery.js";
import { GitSource, type Source } from "./git/source.js";
import {
  type ReplicaOptions,
  type ResolvedReplicaOptions,
  resolveReplicaOptions,
} from "./replicas/replicas.js";
import type { GateRefusal } from "./run/gates.js";
import { Redactor } from "./spec/secrets.js";
import type { SecretSource, TargetSpec } from "./spec/spec.js";
import { isPostgresUrl, type PostgresConnection, PostgresStore } from "./store/postgres/store.js";
import { SqliteStore } from "./store/sqlite/store.js";
import type { Store } from "./store/store.js";
import type { RunOverride, RunRecord, Trigger } from "./types.js";

/** How long a stack lease lasts unless renewed (replicas use their lease TTL); a running run renews it at a quarter of that. */
export const LEASE_TTL_MS = 60_000;
/** Where the reconciler reads the time. */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
}

/** Options for {@link Reconciler.create}. Outside dependencies can be replaced (tests, scale-out). */
export interface ReconcilerOptions {
  /** Directory for mirrors, worktrees, the default state backend and the status database. */
  readonly dataDir: string;
  /** Targets to manage from the start. */
  readonly targets?: readonly TargetSpec[];
  /**
   * Monorepo entries that expand into one target per project directory of
   * their repository (`paths: "stacks/*"`), looked up once at creation.
   */
  readonly discover?: readonly TargetTemplate[];
  /** Most runs at once across all targets. @default 2 */
  readonly concurrency?: number;
  /** First retry delay of a retryable failure; doubles per attempt, with jitter. @default 5000 */
  readonly retryBaseMs?: number;
  /** Longest retry delay. @default 300000 */
  readonly retryMaxMs?: number;
  /**
   * Status, history, promotions and leases: a store, or where the PostgreSQL
   * store connects (a `postgres://` URL, or {@link PostgresConnection} with the
   * password from `{ env }` or `{ file }`). With PostgreSQL, targets without a
   * `backend` keep their Pulumi state in the same database.
   * @default SqliteStore at `<dataDir>/driftless.db`
   */
  readonly store?: Store | string | PostgresConnection;
  /** @default PulumiEngine, the Pulumi CLI on PATH */
  readonly engine?: Engine;
  /** @default GitSource over the system git */
  readonly source?: Source;
  /**
   * Where the reconciler logs. An embedded reconciler is a guest in its host's
   * process: without a logger it writes only warnings and errors, to stderr
   * (`DRIFTLESS_LOG_LEVEL` raises or lowers that), never to stdout.
   * `driftless serve` passes its own logger at `info`.
   * @default pino at `warn` (level from `DRIFTLESS_LOG_LEVEL`) to stderr
   */
  readonly logger?: Logger;
  /** Install the program's dependencies when its lockfile changed. @default true */
  readonly installDependencies?: boolean;
  /** The time, for decisions, soak times, windows and records. Timers still use the real clock. @default Date */
  readonly clock?: Clock;
  /** Numbers in [0, 1) for jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * Share the targets with the other processes using the same store (several
   * hosts on one PostgreSQL database, or processes of one host on one SQLite
   * file): each target is owned by one replica at a time through a lease, and
   * a replica that stops is replaced after `leaseTtlMs`. `true` uses the defaults.
   * @default false - this process runs every target
   */
  readonly replicas?: ReplicaOptions | boolean;
  /**
   * Secrets of the service that embeds the reconciler (API tokens, webhook
   * secrets, notification credentials, session secrets): masked in every run
   * log, error, event and pull-request preview, besides the targets' own
   * secrets. The store's password is added by itself. Read at each run, so
   * rotated values are masked too.
   * @default []
   */
  readonly secrets?: readonly SecretSource[];
  /**
   * Variables of this process's environment the engine and the dependency
   * installer receive besides the minimal set (see `ENGINE_ENV_ALLOWLIST`), for
   * every target; a name, or a prefix ending in `*` (`"AWS_*"`). Targets add
   * their own with `inheritEnv`.
   * @default []
   */
  readonly inheritEnv?: readonly string[];
  /**
   * How long the default engine, once a run is cancelled (its timeout, a
   * cancel, `stop()` after its grace), waits for the Pulumi CLI to stop cleanly
   * after SIGINT before it SIGKILLs it and its plugins. Pulumi's clean cancel
   * lets operations in flight finish, so a slow create can hold it. Ignored
   * when `engine` is given (pass it to `new PulumiEngine({ cancelGraceMs })`).
   * @default 30000
   */
  readonly cancelGraceMs?: number;
}

/** Options for one requested run. */
export interface ReconcileOptions {
  /** What asked for the run; recorded in history. @default "manual" */
  readonly trigger?: Trigger;
  /**
   * Run the engine (refresh + preview, and `up` in apply mode) even when the
   * revision is unchanged and no resync is due. @default true for manual runs
   */
  readonly force?: boolean;
  /** Cancels this run (through the engine when it is running). */
  readonly signal?: AbortSignal;
  /**
   * Apply even outside the target's change windows. Who and why are recorded
   * in the run's history row.
   */
  readonly override?: RunOverride;
  /**
   * The commit a push says the ref now points at. The run skips the ref
   * lookup and fetches the ref: it applies this commit when the fetched ref
   * points at it, else the ref's real tip (a later push, or a payload naming
   * a commit that is not on the ref). Requests that coalesce with another
   * naming a different commit look the ref up.
   */
  readonly pushedRevision?: string;
  /**
   * Who asked for the run (an identity's id, `token:ci`): a plan the run holds
   * for approval remembers it, so a four-eyes target refuses their approval.
   */
  readonly requestedBy?: string;
}

/** Who approves a held plan or a stalled revision, and why; recorded in history. */
export interface ApprovalRequest {
  /** The revision to release. @default - the one awaiting approval, else the stalled one */
  readonly revision?: string;
  /** Who approves (a person or a system). */
  readonly by?: string;
  /** Why. */
  readonly reason?: string;
  /** The person an admin approves for (`by` is the admin). */
  readonly onBehalfOf?: string;
}

/** Who suspends or resumes a target's scheduled runs, and why; recorded in its status (both or neither). */
export interface SuspendRequest {
  /** Who (a person or a system). */
  readonly by?: string;
  /** Why. */
  readonly reason?: string;
  /** The person an admin acts for (`by` is the admin). */
  readonly onBehalfOf?: string;
}

/** The plan for a ref that is not applied (a branch or pull request head). */
export interface RefPreview {
  readonly target: string;
  readonly ref: string;
  readonly revision: string;
  readonly plan: Plan;
  /** Whether the program was type-checked, and how. */
  readonly typeCheck: TypeCheck;
  /** What the target's safety gates and approval policy would do with this plan if it were applied. */
  readonly verdict: PlanVerdict;
}

/** The safety gates' verdict on a previewed plan. */
export interface PlanVerdict {
  /** The gate that would refuse the plan (the apply would stall until approved); absent when the gates pass. */
  readonly refusal?: GateRefusal;
  /** The target's `requireApproval` would hold this plan for a person. */
  readonly needsApproval: boolean;
}

/** Options for {@link Reconciler.previewRef}. */
export interface PreviewRefOptions {
  readonly signal?: AbortSignal;
  /** Called with each step and engine event, for progress display. */
  readonly onProgress?: (step: string, message: string) => void;
}

/** A run waiting in the queue or running. */
export interface QueuedRun {
  readonly id: string;
  readonly target: string;
  /** Settles when the run finished; never rejects. */
  readonly done: Promise<RunRecord>;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  readonly dataDir: string;
  readonly store: Store;
  /** Whether the reconciler opened the store (and so closes it). */
  readonly ownsStore: boolean;
  /** The default state backend in the store's database, and the environment the engine needs for it. */
  readonly stateBackend: { readonly url: string; readonly env: Readonly<Record<string, string>> } | undefined;
  readonly engine: Engine;
  readonly source: Source;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly installDependencies: boolean;
  readonly clock: Clock;
  readonly random: () => number;
  /** Replica coordination; `undefined` when this process runs every target. */
  readonly replicas: ResolvedReplicaOptions | undefined;
  /** How long a stack lease lasts unless renewed: the replicas' lease TTL, else {@link LEASE_TTL_MS}. */
  readonly stackLeaseTtlMs: number;
  /** The service's secrets, the store's password included. */
  readonly secrets: readonly SecretSource[];
  /** Variables passed to the engine of every target beyond the minimal set. */
  readonly inheritEnv: readonly string[];
}

/** Checks the options that need no I/O. @throws SpecError naming the field and the value */
export function checkOptions(options: ReconcilerOptions): void {
  if (!options || typeof options.dataDir !== "string" || options.dataDir === "") {
    throw new SpecError("Reconciler options", [{ path: "dataDir", message: "must be a directory path" }]);
  }
  if (
    options.concurrency !== undefined &&
    (!Number.isInteger(options.concurrency) || options.concurrency < 1)
  ) {
    throw new SpecError("Reconciler options", [
      { path: "concurrency", message: `must be a whole number of at least 1, got ${options.concurrency}` },
    ]);
  }
  const grace = options.cancelGraceMs;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) {
    throw new SpecError("Reconciler options", [
      {
        path: "cancelGraceMs",
        message: `must be a whole number of milliseconds of at least 0, got ${grace}`,
      },
    ]);
  }
}

/** Validates the options and fills in the defaults (opening the default store). */
export async function resolveOptions(options: ReconcilerOptions): Promise<ResolvedOptions> {
  checkOptions(options);
  const dataDir = resolve(options.dataDir);
  const given = options.store;
  const replicas = options.replicas ? resolveReplicaOptions(options.replicas) : undefined;
  const store = isStore(given) ? given : await openStoreOption(given, dataDir);
  return {
    dataDir,
    store,
    ownsStore: !isStore(given),
    stateBackend: store instanceof PostgresStore ? store.stateBackend() : undefined,
    engine:
      options.engine ??
      new PulumiEngine(options.cancelGraceMs !== undefined ? { cancelGraceMs: options.cancelGraceMs } : {}),
    source: options.source ?? new GitSource({ dataDir }),
    logger:
      options.logger ??
      pino({ level: process.env.DRIFTLESS_LOG_LEVEL || "warn", base: undefined }, pino.destination(2)),
    concurrency: options.concurrency ?? 2,
    retryBaseMs: options.retryBaseMs ?? 5000,
    retryMaxMs: options.retryMaxMs ?? 300_000,
    installDependencies: options.installDependencies ?? true,
    clock: options.clock ?? { now: () => Date.now() },
    random: options.random ?? Math.random,
    replicas,
    stackLeaseTtlMs: replicas?.leaseTtlMs ?? LEASE_TTL_MS,
    secrets: [...(options.secrets ?? []), ...storePassword(given)],
    inheritEnv: checkInheritEnv(options.inheritEnv ?? [], "inheritEnv"),
  };
}

/** The password of a PostgreSQL store option (a URL's, or `password`), where one is given. */
export function storePassword(store: ReconcilerOptions["store"]): SecretSource[] {
  if (typeof store === "object" && !isStore(store)) return store.password ? [store.password] : [];
  if (typeof store !== "string") return [];
  try {
    const password = decodeURIComponent(new URL(store).password);
    return password ? [password] : [];
  } catch {
    return [];
  }
}

/**
 * Checks a list of variable names and `PREFIX_*` patterns.
 * @throws SpecError naming the field and the entry
 */
export function checkInheritEnv(patterns: readonly string[], field: string): readonly string[] {
  if (!Array.isArray(patterns)) {
    throw new SpecError("Reconciler options", [{ path: field, message: "must be a list of variable names" }]);
  }
  for (const [i, pattern] of patterns.entries()) {
    if (typeof pattern !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/.test(pattern)) {
      throw new SpecError("Reconciler options", [
        {
          path: `${field}[${i}]`,
          message: `must be a variable name or a prefix ending in *, got ${JSON.stringify(pattern)}`,
        },
      ]);
    }
  }
  return patterns;
}

function isStore(store: ReconcilerOptions["store"]): store is Store {
  return typeof store === "object" && typeof (store as Partial<Store>).getStatus === "function";
}

/**
 * Opens the store the options name: SQLite in the data directory, or PostgreSQL (connected and migrated).
 * @throws SpecError for a string that is not a `postgres://` URL (credentials not echoed)
 */
export async function openStoreOption(
  store: string | PostgresConnection | undefined,
  dataDir: string,
): Promise<Store> {
  if (store === undefined) return new SqliteStore(join(dataDir, "driftless.db"));
  if (typeof store === "string" && !isPostgresUrl(store)) {
    throw new SpecError("Reconciler options", [
      {
        path: "store",
        message: `must be a store, a postgres:// URL or { url, password }, got "${new Redactor().redact(store)}"`,
      },
    ]);
  }
  return PostgresStore.open(store);
}
