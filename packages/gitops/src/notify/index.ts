// Outbound: commit statuses and comments on Git hosts, notifications, and the queue that delivers them.
export {
  DeliveryError,
  type DeliveryOptions,
  type DeliveryOutcome,
  DeliveryQueue,
} from "./deliveries.js";
export {
  type CommitState,
  type CommitStatus,
  GiteaHost,
  type GiteaHostOptions,
  type GitHost,
  GitHubHost,
  type GitHubHostOptions,
  type HostRepo,
  repoUnder,
} from "./hosts.js";
export {
  changeList,
  headline,
  NOTIFY_EVENTS,
  type Notification,
  Notifier,
  type NotifierOptions,
  type NotifyEvent,
  type NotifyProvider,
  statusText,
} from "./notifier.js";
