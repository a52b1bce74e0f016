/**
 * `@driftless/gitops`: continuous reconciliation of Pulumi stacks from Git.
 *
 * @example
 * ```ts
 * import { Reconciler } from "@driftless/gitops";
 * const reconciler = await Reconciler.create({
 *   dataDir: "/var/lib/driftless",
 *   targets: [{ name: "site", repo: "https://example.com/infra.git", path: "site", stack: "prod" }],
 * });
 * reconciler.on("drift.detected", (e) => console.log(`${e.target} drifted`));
 * reconciler.start();
 * ```
 * @packageDocumentation
 */

// Serving: the HTTP handler and server, the service configuration, preview reports.
export { ConfigError, type DriftlessConfig, loadConfig, parseConfig, type SecretRef } from "./config.js";
export { DATA_DIR_LOCK_FILE, type DataDirLock, DataDirLockedError, lockDataDir } from "./dataDirLock.js";
export {
  type DiscoverOptions,
  discoverTargets,
  expandTemplate,
  matchProjectDirectories,
  type TargetTemplate,
} from "./discovery.js";
export { type Duration, formatDuration, parseDuration } from "./duration.js";
export {
  type ApplyResult,
  type ChangeCounts,
  type DriftedResource,
  type Engine,
  type EngineOperationOptions,
  type EngineProgress,
  EngineProgressRenderer,
  type Plan,
  type PlannedStep,
  type PropertyChange,
  PulumiEngine,
  type StackRequest,
} from "./engine.js";
export {
  CancelledError,
  DriftlessError,
  FencedError,
  GateRefusedError,
  NothingToApproveError,
  PlanDivergedError,
  ReconcilerStoppedError,
  RetryableError,
  SpecError,
  type SpecIssue,
  StalledError,
  type StallReason,
  StoreUnavailableError,
  UnknownTargetError,
} from "./errors.js";
export { type ReconcilerEventName, type ReconcilerEvents, TypedEmitter } from "./events.js";
export { checkGates, type GateRefusal } from "./gates.js";
export { type DependencyGraph, dependentsFirst, dependentsOf, validateGraph } from "./graph.js";
export {
  createHandler,
  type DashboardSessionOptions,
  type DriftlessHandler,
  type DriftlessServer,
  type HandlerOptions,
  listen,
  matchTargets,
  normalizeRepoUrl,
  type PublicTarget,
  type PushEvent,
  pathMatches,
  publicTarget,
  ReconcilerMetrics,
  refMatches,
  type ServeOptions,
  type ShutdownOptions,
  signBody,
  type WebhookOutcome,
  type WebhookSecrets,
} from "./http/index.js";
export { githubPullRequest, type PullRequestEvent } from "./http/pullRequest.js";
export * from "./notify/index.js";
export type {
  ApprovalRequest,
  Clock,
  PlanVerdict,
  PreviewRefOptions,
  QueuedRun,
  ReconcileOptions,
  ReconcilerOptions,
  RefPreview,
  SuspendRequest,
} from "./options.js";
export { type PostgresConnection, PostgresStore } from "./postgresStore.js";
export type { PromotionRequest } from "./promotion.js";
export {
  type PullRequestOptions,
  type PullRequestOutcome,
  PullRequestPreviews,
} from "./pulls.js";
export { Reconciler } from "./reconciler.js";
export { type ReplicaOptions, type ReplicaStats, rendezvousOwner } from "./replicas.js";
export { repoIdentity, sameRepo } from "./repo.js";
export {
  type PreviewReport,
  type PreviewReportStep,
  previewFailureMarkdown,
  previewMarkdown,
  previewMarker,
  previewReport,
  verdictText,
} from "./report.js";
export { type FollowLogOptions, followRunLog } from "./runLog.js";
export { publicRepoUrl, Redactor, readSecret, SecretUnavailableError } from "./secrets.js";
export { GitSource, gitEnv, type Source, type SourceRef } from "./source.js";
export {
  type ChangeWindows,
  DEFAULT_PROTECTED_TYPES,
  type GateOptions,
  type GitAuth,
  type PromotionPolicy,
  type ReconcileMode,
  type ResolvedPromotion,
  type ResolvedTarget,
  resolveTarget,
  type SecretSource,
  type TargetSpec,
} from "./spec.js";
export { DEPENDENCY_CONFIG_PREFIX, PROVENANCE_ENV } from "./stackRequest.js";
export {
  type Acquired,
  type LeaseStore,
  type MembershipStore,
  type OwnershipStore,
  type PromotionLog,
  type RunHistory,
  type RunLogStore,
  type SessionRevocations,
  SqliteStore,
  type StatusStore,
  type Store,
  type TriggerInbox,
} from "./store.js";
export type { TypeCheck } from "./typecheck.js";
export type {
  Condition,
  ConditionType,
  Fence,
  Member,
  MemberInfo,
  PendingApproval,
  PendingPromotion,
  PromotionKind,
  PromotionRecord,
  RunLogChunk,
  RunOverride,
  RunRecord,
  RunResult,
  StackLease,
  StackLockRequest,
  StoredTrigger,
  Suspension,
  TargetLease,
  TargetStatus,
  Trigger,
  TriggerCommand,
} from "./types.js";
export { checkWindows, type ResolvedWindows, type WindowVerdict } from "./windows.js";
export { type PrepareResult, prepareDependencies } from "./workspace.js";
