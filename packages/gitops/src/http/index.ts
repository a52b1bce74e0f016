// The HTTP surface: the handler, the standalone server, webhooks parsing, metrics and views.
export { pathMatches, refMatches } from "../git/match.js";
export { repoIdentity as normalizeRepoUrl } from "../git/repo.js";
export type { OidcOptions } from "../spec/oidc.js";
export { ACTIONS, type Action, type Identity, type TokenResolver } from "./auth/identity.js";
export { type Binding, BUILT_IN_ROLES, type Grant, Policy, type PolicyOptions } from "./auth/policy.js";
export {
  type ApiToken,
  newPersonalToken,
  type TokenOption,
  tokenDigest,
  tokenResolver,
} from "./auth/tokens.js";
export { type BodyFailure, readBody } from "./body.js";
export { createHandler, type DriftlessHandler, type HandlerOptions, type WebhookSecrets } from "./handler.js";
export { ReconcilerMetrics, type WebhookOutcome } from "./metrics.js";
export {
  genericPush,
  githubPush,
  gitlabPush,
  matchTargets,
  type PushEvent,
} from "./push.js";
export { type DriftlessServer, listen, type ServeOptions, type ShutdownOptions } from "./server.js";
export { safeEqual, signBody, verifyGenericSignature, verifyGithubSignature } from "./signatures.js";
export type { DashboardSessionOptions, SignInEvent } from "./ui/account/session.js";
export { type PublicTarget, publicTarget, redactJson, redactorFor } from "./views.js";
