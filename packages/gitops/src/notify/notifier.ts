/**
 * The notifier: follows a reconciler's events and, off the run path, sets
 * commit statuses on Git hosts and sends notifications to Slack-compatible
 * incoming webhooks and signed generic JSON webhooks. Each provider has an
 * event filter; deliveries go through a {@link DeliveryQueue} (rate limit,
 * timeout, retry with backoff) and are counted.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ChangeCounts } from "../engine/types.js";
import { signBody } from "../http/signatures.js";
import type { Reconciler } from "../reconciler.js";
import { publicRepoUrl, Redactor, readableSecrets, readSecret } from "../spec/secrets.js";
import type { SecretSource } from "../spec/spec.js";
import type { RunResult } from "../types.js";
import { formatCounts } from "../util.js";
import { type DeliveryOptions, type DeliveryOutcome, DeliveryQueue, expectOk } from "./deliveries.js";
import { type CommitState, GiteaHost, type GitHost, GitHubHost } from "./hosts.js";

/** What a provider can be told about. */
export const NOTIFY_EVENTS = [
  "applied",
  "drift.detected",
  "stalled",
  "failed",
  "awaiting-approval",
  "promoted",
] as const;

/** One of {@link NOTIFY_EVENTS}. */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Settings every provider has. */
interface ProviderBase {
  /** Which events reach this provider. @default - all of {@link NOTIFY_EVENTS} */
  readonly events?: readonly NotifyEvent[];
}

/** A notification provider, as `notify:` in `driftless.yaml` declares it. */
export type NotifyProvider =
  | (ProviderBase & {
      /** Commit statuses `driftless/<target>` on github.com or GitHub Enterprise. */
      readonly provider: "github";
      readonly token: SecretSource;
      /** API base URL (GitHub Enterprise: `https://ghe.example.com/api/v3`). @default "https://api.github.com" */
      readonly baseUrl?: string;
      /** Web URL of the repositories. @default "https://github.com", or the origin of `baseUrl` */
      readonly webUrl?: string;
    })
  | (ProviderBase & {
      /** Commit statuses `driftless/<target>` on a Gitea (or Forgejo) server. */
      readonly provider: "gitea";
      /** The server's base URL. */
      readonly url: string;
      readonly token: SecretSource;
    })
  | (ProviderBase & {
      /** A Slack-compatible incoming webhook (`{ "text": … }`; Mattermost, Rocket.Chat accept it too). */
      readonly provider: "slack";
      /** The webhook URL, which is itself the credential. */
      readonly url: SecretSource;
    })
  | (ProviderBase & {
      /** A JSON POST signed like GitHub's webhooks: `X-Signature: sha256=<HMAC-SHA256 of the body>`. */
      readonly provider: "webhook";
      readonly url: string;
      /** The HMAC key. */
      readonly secret: SecretSource;
    });

/** The body a generic webhook receives (and, as text, what Slack shows). */
export interface Notification {
  readonly event: NotifyEvent;
  readonly target: string;
  /** The commit concerned. */
  readonly revision?: string;
  readonly runId?: string;
  /** The run's result, for run events. */
  readonly result?: RunResult;
  readonly counts?: ChangeCounts;
  /** One line for people, secrets redacted. */
  readonly message: string;
  /** The target's repository, without credentials. */
  readonly repository?: string;
  /** When it happened (ISO 8601). */
  readonly at: string;
}

/** Options of {@link Notifier.create}. */
export interface NotifierOptions {
  readonly providers: readonly NotifyProvider[];
  /** Counts each delivery (the HTTP handler's metrics: `driftless_notifications_total`). */
  readonly count?: (provider: string, outcome: DeliveryOutcome) => void;
  readonly logger?: Logger;
  /** Retry, timeout and rate-limit settings. */
  readonly delivery?: DeliveryOptions;
  /**
   * Other secrets of the service (API tokens, webhook secrets, the store's
   * password), masked with the providers' own in every status, comment,
   * notification and logged error.
   * @default []
   */
  readonly secrets?: readonly SecretSource[];
}

const RESULT_EVENTS: Partial<Record<RunResult, NotifyEvent>> = {
  applied: "applied",
  "drift-corrected": "applied",
  "drift-detected": "drift.detected",
  stalled: "stalled",
  failed: "failed",
  "awaiting-approval": "awaiting-approval",
};

/** The commit status a run result sets. */
const RESULT_STATES: Partial<Record<RunResult, CommitState>> = {
  applied: "success",
  "drift-corrected": "success",
  "drift-detected": "failure",
  stalled: "failure",
  failed: "error",
  "awaiting-approval": "pending",
};

/**
 * Sends what happens to targets where people look. Statuses and
 * notifications are queued and delivered apart from runs: a receiver that is
 * slow, down or answers errors never delays or fails a reconcile.
 */
export class Notifier {
  readonly #queue: DeliveryQueue;
  readonly #providers: readonly NotifyProvider[];
  readonly #hosts: readonly { readonly host: GitHost; readonly events?: readonly NotifyEvent[] }[];
  readonly #unsubscribe: (() => void)[] = [];
  readonly #log: Logger | undefined;
  /** The last notification per provider, target and event, so retries of one failure are told once. */
  readonly #last = new Map<string, string>();

  /** Every secret this notifier masks: the providers' own and the service's. */
  #secrets: readonly SecretSource[];
  /** Masks the errors of failed deliveries in the log. */
  readonly #deliveryRedactor: Redactor;

  private constructor(options: NotifierOptions) {
    this.#providers = options.providers;
    this.#log = options.logger;
    this.#secrets = [
      ...options.providers.map((p) =>
        p.provider === "webhook" ? p.secret : p.provider === "slack" ? p.url : p.token,
      ),
      ...(options.secrets ?? []),
    ];
    // One that cannot be read now is read again at delivery, where a missing secret fails that delivery.
    this.#deliveryRedactor = new Redactor().add(...readableSecrets(this.#secrets));
    this.#queue = new DeliveryQueue(options.delivery ?? {}, {
      ...(options.count ? { count: options.count } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      redactor: this.#deliveryRedactor,
    });
    this.#hosts = options.providers.flatMap((p): { host: GitHost; events?: readonly NotifyEvent[] }[] => {
      const events = p.events ? { events: p.events } : {};
      if (p.provider === "github") {
        const host = new GitHubHost({
          token: p.token,
          ...(p.baseUrl ? { baseUrl: p.baseUrl } : {}),
          ...(p.webUrl ? { webUrl: p.webUrl } : {}),
        });
        return [{ host, ...events }];
      }
      return p.provider === "gitea"
        ? [{ host: new GiteaHost({ url: p.url, token: p.token }), ...events }]
        : [];
    });
  }

  /** A notifier for the given providers; call {@link follow} to attach it to a reconciler. */
  static create(options: NotifierOptions): Notifier {
    return new Notifier(options);
  }

  /**
   * `text` with every secret this notifier knows masked (read now, so rotated
   * ones too): what reaches a Git host or a receiver, a pull-request comment included.
   */
  redact(text: string): string {
    return new Redactor().add(...readableSecrets(this.#secrets)).redact(text);
  }

  /** The Git hosts among the providers (pull-request previews post through them). */
  get hosts(): readonly GitHost[] {
    return this.#hosts.map((h) => h.host);
  }

  /** The queue deliveries go through, shared with pull-request previews. */
  get queue(): DeliveryQueue {
    return this.#queue;
  }

  /** Follows a reconciler's events until {@link close}; masks its `secrets` too. */
  follow(reconciler: Pick<Reconciler, "on" | "target"> & Partial<Pick<Reconciler, "secrets">>): this {
    this.#secrets = [...this.#secrets, ...(reconciler.secrets ?? [])];
    this.#deliveryRedactor.add(...readableSecrets(reconciler.secrets ?? []));
    this.#unsubscribe.push(
      reconciler.on("run.finished", (e) => {
        const event = RESULT_EVENTS[e.result];
        if (!event) return;
        const repo = reconciler.target(e.target)?.repo;
        const message =
          e.error ??
          (e.result === "awaiting-approval"
            ? `waiting for approval: ${formatCounts(e.counts)}`
            : `${e.result}: ${changeList(e.counts)}`);
        this.#notify({
          event,
          target: e.target,
          ...(e.revision ? { revision: e.revision } : {}),
          runId: e.runId,
          result: e.result,
          ...(e.counts ? { counts: e.counts } : {}),
          message,
          ...(repo ? { repository: publicRepoUrl(repo) } : {}),
          at: new Date().toISOString(),
        });
        const state = RESULT_STATES[e.result];
        // A review stack's status (`driftless/review-<target>`) is set by `ReviewStacks`, which knows its pull request.
        if (state && e.revision && repo && !reconciler.target(e.target)?.review) {
          this.setStatus(repo, e.revision, e.target, state, statusText(e.result, e.counts, e.error), event);
        }
      }),
      reconciler.on("promoted", (p) => {
        const repo = reconciler.target(p.target)?.repo;
        this.#notify({
          event: "promoted",
          target: p.target,
          revision: p.revision,
          message: `${p.kind === "rollback" ? "rolled back" : "promoted"} to ${p.revision.slice(0, 12)} from ${p.source}${p.by ? ` by ${p.by}` : ""}${p.reason ? `: ${p.reason}` : ""}`,
          ...(repo ? { repository: publicRepoUrl(repo) } : {}),
          at: p.at,
        });
      }),
    );
    return this;
  }

  /**
   * Queues a commit status `driftless/<target>` on every Git host that serves
   * the repository (and, for a run's result `event`, lets it through its `events`).
   */
  setStatus(
    repoUrl: string,
    sha: string,
    target: string,
    state: CommitState,
    text: string,
    event?: NotifyEvent,
  ): void {
    for (const { host, events } of this.#hosts) {
      if (event && events && !events.includes(event)) continue;
      const repo = host.repoOf(repoUrl);
      if (!repo) continue;
      this.#queue.push(host.kind, `status ${state} on ${sha.slice(0, 12)}`, (signal) =>
        host.setStatus(
          repo,
          sha,
          { state, context: `driftless/${target}`, description: this.redact(text) },
          signal,
        ),
      );
    }
  }

  #notify(unmasked: Notification): void {
    const notification = { ...unmasked, message: this.redact(unmasked.message) };
    for (const [index, provider] of this.#providers.entries()) {
      if (provider.provider === "github" || provider.provider === "gitea") continue;
      if (provider.events && !provider.events.includes(notification.event)) continue;
      const key = `${index}\0${notification.target}\0${notification.event}`;
      const fingerprint = `${notification.revision}\0${notification.message}`;
      // A failing revision retried with the same error is told once.
      if (notification.event !== "applied" && this.#last.get(key) === fingerprint) continue;
      this.#last.set(key, fingerprint);
      // One channel per provider: a receiver that hangs holds up only its own deliveries.
      const channel = `${provider.provider}#${index}`;
      const what = `${notification.event} of ${notification.target}`;
      if (provider.provider === "slack") {
        const { url } = provider;
        this.#queue.push(
          channel,
          what,
          async (signal) => {
            const response = await fetch(readSecret(url, "notify.slack.url"), {
              method: "POST",
              signal,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ text: slackText(notification) }),
            });
            await expectOk(response, "slack webhook");
          },
          "slack",
        );
      } else {
        const { url, secret } = provider;
        this.#queue.push(
          channel,
          what,
          async (signal) => {
            const body = JSON.stringify(notification);
            const response = await fetch(url, {
              method: "POST",
              signal,
              headers: {
                "content-type": "application/json",
                "user-agent": "driftless",
                "x-driftless-event": notification.event,
                "x-delivery-id": randomUUID(),
                "x-signature": signBody(readSecret(secret, "notify.webhook.secret"), body),
              },
              body,
            });
            await expectOk(response, "webhook");
          },
          "webhook",
        );
      }
    }
    this.#log?.debug({ target: notification.target, event: notification.event }, "notification queued");
  }

  /** Resolves when every queued delivery was sent or gave up. */
  whenIdle(): Promise<void> {
    return this.#queue.whenIdle();
  }

  /** Stops following events and drops what is still queued. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#queue.close();
  }
}

/** A commit status description for a run result. */
export function statusText(result: RunResult, counts?: ChangeCounts, error?: string): string {
  if (error) return `${result}: ${headline(error)}`;
  return `${result}: ${changeList(counts)}`;
}

/**
 * The line of an error that says what went wrong, for a one-line description:
 * the first naming an error (`Error: …`), else the first that is not empty.
 */
export function headline(error: string): string {
  const lines = error
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /\b\w*Error\b:/.test(l)) ?? lines[0] ?? "";
}

/** Counts in a few words: `1 create, 2 update`, or `no changes`. */
export function changeList(counts: ChangeCounts | undefined): string {
  const parts = (["create", "update", "replace", "delete"] as const)
    .filter((k) => (counts?.[k] ?? 0) > 0)
    .map((k) => `${counts?.[k]} ${k}`);
  return parts.length > 0 ? parts.join(", ") : "no changes";
}

function slackText(n: Notification): string {
  const at = n.revision ? ` at \`${n.revision.slice(0, 12)}\`` : "";
  return `*${n.target}* ${n.event}${at}: ${n.message}`;
}
