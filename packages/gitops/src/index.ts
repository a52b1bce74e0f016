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
export { ConfigError, type DriftlessConfig, loadConfig, parseConfig, type SecretRef } from "./cli/config.js";
export { EngineProgressRenderer, PulumiEngine } from "./engine/engine.js";
export type { TypeCheck } from "./engine/typecheck.js";
export type {
  ApplyResult,
  ChangeCounts,
  DriftedResource,
  Engine,
  EngineOperationOptions,
  EngineProgress,
  Plan,
  PlannedStep,
  PropertyChange,
  StackRequest,
  StackState,
  StateResource,
} from "./engine/types.js";
export { type PrepareResult, prepareDependencies } from "./engine/workspace.js";
export {
  CancelledError,
  DriftlessError,
  FencedError,
  GateRefusedError,
  NothingToApproveError,
  PlanDivergedError,
  ReconcilerStoppedError,
  RetryableError,
  SetupError,
  SpecError,
  type SpecIssue,
  StalledError,
  type StallReason,
  StoreUnavailableError,
  TargetLostError,
  UnknownTargetError,
} from "./errors.js";
export { type ReconcilerEventName, type ReconcilerEvents, TypedEmitter } from "./events.js";
export {
  type DiscoverOptions,
  discoverTargets,
  expandTemplate,
  matchProjectDirectories,
  type TargetTemplate,
} from "./git/discovery.js";
export { gitEnv } from "./git/env.js";
export { repoIdentity, sameRepo } from "./git/repo.js";
export { GitSource, type Source, type SourceRef } from "./git/source.js";
export {
  ACTIONS,
  type Action,
  type ApiToken,
  type Binding,
  BUILT_IN_ROLES,
  createHandler,
  type DashboardSessionOptions,
  type DriftlessHandler,
  type DriftlessServer,
  type Grant,
  type HandlerOptions,
  type Identity,
  listen,
  matchTargets,
  newPersonalToken,
  normalizeRepoUrl,
  type OidcOptions,
  Policy,
  type PolicyOptions,
  type PublicTarget,
  type PushEvent,
  pathMatches,
  publicTarget,
  ReconcilerMetrics,
  refMatches,
  type ServeOptions,
  type ShutdownOptions,
  type SignInEvent,
  signBody,
  type TokenOption,
  type TokenResolver,
  tokenDigest,
  tokenResolver,
  type WebhookOutcome,
  type WebhookSecrets,
} from "./http/index.js";
export { githubPullRequest, type PullRequestEvent } from "./http/pullRequest.js";
export {
  type PullRequestOptions,
  type PullRequestOutcome,
  PullRequestPreviews,
} from "./http/pulls.js";
export {
  type ReviewStackOutcome,
  ReviewStacks,
  type ReviewStacksOptions,
} from "./http/reviewStacks/manager.js";
export { reviewComment, reviewMarker } from "./http/reviewStacks/views.js";
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
export { checkApprovalRequest } from "./pipelines/approvals.js";
export { type DependencyGraph, dependentsFirst, dependentsOf, validateGraph } from "./pipelines/graph.js";
export type { PromotionRequest } from "./pipelines/promotion.js";
export { type ReviewPull, reviewTarget, reviewTargetName } from "./pipelines/reviewStacks.js";
export { Reconciler } from "./reconciler.js";
export { type ReplicaOptions, type ReplicaStats, rendezvousOwner } from "./replicas/replicas.js";
export { checkGates, type GateRefusal } from "./run/gates.js";
export { kubernetesHealth } from "./run/health.js";
export { buildInventory, type InventoryInput, resourceTree, syncCounts } from "./run/inventory.js";
export {
  type PreviewReport,
  type PreviewReportStep,
  previewFailureMarkdown,
  previewMarkdown,
  previewMarker,
  previewReport,
  verdictText,
} from "./run/report.js";
export { DEPENDENCY_CONFIG_PREFIX, PROVENANCE_ENV } from "./run/stackRequest.js";
export { type Duration, formatDuration, parseDuration } from "./spec/duration.js";
export {
  branchSlug,
  type ResolvedReviewStacks,
  type ReviewOf,
  type ReviewStackOptions,
  substitute as substituteReviewTemplate,
} from "./spec/reviewStacks.js";
export { publicRepoUrl, Redactor, readSecret, SecretUnavailableError } from "./spec/secrets.js";
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
  type SshKeySource,
  type TargetSpec,
  type WatchOptions,
} from "./spec/spec.js";
export { checkWindows, type ResolvedWindows, type WindowVerdict } from "./spec/windows.js";
export {
  type AuditEntry,
  type AuditOutcome,
  type AuditRecord,
  auditHash,
  canonicalJson as auditCanonicalJson,
  GENESIS_HASH as AUDIT_GENESIS_HASH,
} from "./store/audit/chain.js";
export {
  type AuditBreak,
  type AuditProblem,
  type AuditVerification,
  type VerifyAuditOptions,
  verifyAudit,
} from "./store/audit/verify.js";
export {
  DATA_DIR_LOCK_FILE,
  type DataDirLock,
  DataDirLockedError,
  lockDataDir,
} from "./store/dataDirLock.js";
export {
  DEFAULT_TIMEOUTS as DEFAULT_POSTGRES_TIMEOUTS,
  type PostgresTimeouts,
} from "./store/postgres/pool.js";
export { type PostgresConnection, PostgresStore } from "./store/postgres/store.js";
export { type FollowLogOptions, followRunLog } from "./store/runLog.js";
export { SqliteStore } from "./store/sqlite/store.js";
export type {
  Acquired,
  AuditFilter,
  AuditStore,
  InventoryStore,
  LeaseStore,
  MembershipStore,
  OwnershipStore,
  PersonalTokenOwner,
  PersonalTokenRecord,
  PersonalTokenStore,
  PromotionLog,
  ReviewStackRecord,
  ReviewStackState,
  ReviewStackStore,
  RunHistory,
  RunLogStore,
  SessionRevocations,
  StatusStore,
  Store,
  TriggerInbox,
} from "./store/store.js";
export type {
  Condition,
  ConditionStatus,
  ConditionType,
  Fence,
  Member,
  MemberInfo,
  PendingApproval,
  PendingPromotion,
  PromotionKind,
  PromotionRecord,
  ResourceChange,
  ResourceEntry,
  ResourceHealth,
  ResourceHealthStatus,
  ResourceHistoryEntry,
  ResourceHistoryOp,
  ResourceNode,
  ResourceSyncState,
  RunLogChunk,
  RunOverride,
  RunRecord,
  RunResult,
  StackLease,
  StackLockRequest,
  StoredTrigger,
  Suspension,
  TargetInventory,
  TargetLease,
  TargetStatus,
  Trigger,
  TriggerCommand,
  UnresolvedDrift,
} from "./types.js";
export type { WatchStats } from "./watch/types.js";
