/**
 * Plan on the pull request: for every target a pull request concerns (same
 * repository, base branch = the target's ref, a changed file under its path),
 * the head commit is previewed against the target's stack (in an engine slot,
 * without touching the stack's state), one comment per pull request and
 * target is posted and then edited in place on each push, and the head commit
 * gets a status `driftless/<target>`: pending, then success or failure.
 */
import type { Logger } from "pino";
import { pathMatches, refMatches } from "../git/match.js";
import { repoIdentity } from "../git/repo.js";
import type { GitHost } from "../notify/hosts.js";
import { changeList, headline, type Notifier } from "../notify/notifier.js";
import type { Reconciler } from "../reconciler.js";
import { previewFailureMarkdown, previewMarkdown, previewMarker } from "../run/report.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { PullRequestEvent } from "./pullRequest.js";
import type { ReviewStackOutcome, ReviewStacks } from "./reviewStacks/manager.js";

/** Options of {@link PullRequestPreviews}. */
export interface PullRequestOptions {
  /**
   * Preview pull requests from forks too. A preview runs the pull request's
   * program with the target's secrets (passphrase, secret config, env), so
   * only enable this where every fork author may see them.
   * @default false
   */
  readonly forks?: boolean;
  /** Review stacks of the targets with `reviewStacks`, given each pull request event too. @default - none */
  readonly reviewStacks?: ReviewStacks;
}

/** What a pull request event started. */
export interface PullRequestOutcome {
  readonly previewing: readonly string[];
  readonly skipped: readonly { readonly target: string; readonly reason: string }[];
  /** Previews of a closed pull request that were stopped. */
  readonly stopped: readonly string[];
  /** What the event did to review stacks, when they are enabled. */
  readonly reviewStacks?: ReviewStackOutcome;
}

const PREVIEW_ACTIONS = new Set(["opened", "synchronize", "synchronized", "reopened"]);

/** Previews pull requests and reports them on their Git host. */
export class PullRequestPreviews {
  readonly #reconciler: Reconciler;
  readonly #notifier: Notifier;
  readonly #forks: boolean;
  readonly #log: Logger | undefined;
  /** Review stacks, when enabled: each event is handed to them too. */
  readonly reviewStacks: ReviewStacks | undefined;
  /** Previews in flight by pull request and target; a new push or a close aborts the older one. */
  readonly #inFlight = new Map<string, { readonly abort: AbortController; readonly done: Promise<void> }>();

  constructor(
    reconciler: Reconciler,
    notifier: Notifier,
    options: PullRequestOptions & { readonly logger?: Logger } = {},
  ) {
    this.#reconciler = reconciler;
    this.#notifier = notifier;
    this.#forks = options.forks ?? false;
    this.#log = options.logger;
    this.reviewStacks = options.reviewStacks;
  }

  /** Starts (or stops) the previews (and review stacks) an event asks for and returns at once. */
  handle(event: PullRequestEvent): PullRequestOutcome {
    const previews = this.#previews(event);
    return this.reviewStacks ? { ...previews, reviewStacks: this.reviewStacks.handle(event) } : previews;
  }

  #previews(event: PullRequestEvent): PullRequestOutcome {
    const urls = new Set(event.repoUrls.map(repoIdentity));
    const targets = this.#reconciler
      .targets()
      .filter((t) => urls.has(repoIdentity(t.repo)) && refMatches(t.ref, `refs/heads/${event.baseRef}`));
    const keyOf = (t: ResolvedTarget) => `${repoIdentity(t.repo)}#${event.number}\0${t.name}`;
    if (event.action === "closed") {
      const stopped: string[] = [];
      for (const t of targets) {
        const running = this.#inFlight.get(keyOf(t));
        if (!running) continue;
        running.abort.abort(new Error(`pull request #${event.number} was closed`));
        stopped.push(t.name);
      }
      return { previewing: [], skipped: [], stopped };
    }
    if (!PREVIEW_ACTIONS.has(event.action)) {
      return {
        previewing: [],
        skipped: targets.map((t) => ({ target: t.name, reason: `action "${event.action}"` })),
        stopped: [],
      };
    }
    const previewing: string[] = [];
    const skipped: { target: string; reason: string }[] = [];
    for (const target of targets) {
      const host = this.#notifier.hosts.find((h) => h.repoOf(target.repo));
      if (event.fork && !this.#forks) {
        skipped.push({
          target: target.name,
          reason: "pull request from a fork (set pullRequests.forks to preview)",
        });
        continue;
      }
      if (!host) {
        skipped.push({ target: target.name, reason: "no Git host in `notify` serves this repository" });
        continue;
      }
      const key = keyOf(target);
      this.#inFlight.get(key)?.abort.abort(new Error("a newer push to the pull request"));
      const abort = new AbortController();
      const done = this.#preview(target, host, event, abort.signal)
        .catch((error: unknown) =>
          this.#log?.error({ err: error, target: target.name }, "pull request preview"),
        )
        .finally(() => {
          if (this.#inFlight.get(key)?.abort === abort) this.#inFlight.delete(key);
        });
      this.#inFlight.set(key, { abort, done });
      previewing.push(target.name);
    }
    return { previewing, skipped, stopped: [] };
  }

  async #preview(
    target: ResolvedTarget,
    host: GitHost,
    event: PullRequestEvent,
    signal: AbortSignal,
  ): Promise<void> {
    const ref = `refs/pull/${event.number}/head`;
    if (event.baseSha) {
      const changed = await this.#reconciler.changedFiles(target.name, ref, event.baseSha, event.headSha);
      if (![target.path, ...(target.watchPaths ?? [])].some((p) => pathMatches(p, changed))) {
        this.#log?.info(
          { target: target.name, pull: event.number },
          "pull request changes no file of the target",
        );
        return;
      }
    }
    if (signal.aborted) return;
    const repo = host.repoOf(target.repo)!;
    const status = (state: "pending" | "success" | "failure", text: string, sha = event.headSha) =>
      this.#notifier.setStatus(target.repo, sha, target.name, state, text);
    const comment = (body: string) =>
      this.#notifier.queue.push(host.kind, `comment on #${event.number}`, (s) =>
        // A preview runs the pull request's code: whatever it prints or throws is masked again here.
        host.upsertComment(repo, event.number, previewMarker(target.name), this.#notifier.redact(body), s),
      );
    status("pending", "previewing the plan");
    try {
      const preview = await this.#reconciler.previewRef(target.name, ref, { signal });
      if (signal.aborted) return;
      comment(previewMarkdown(preview));
      const refusal = preview.verdict.refusal;
      status(
        refusal ? "failure" : "success",
        refusal ? `a safety gate would refuse: ${refusal.gate}` : `plan: ${changeList(preview.plan.counts)}`,
        preview.revision,
      );
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      comment(previewFailureMarkdown(target.name, ref, event.headSha, message));
      status("failure", `preview failed: ${headline(message)}`);
    }
  }

  /** Resolves when no preview (nor review stack work) is in flight. */
  async whenIdle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()].map((p) => p.done));
    await this.reviewStacks?.whenIdle();
  }

  /** Stops every preview in flight, and the review stacks' timers and runs. */
  close(): void {
    this.reviewStacks?.close();
    for (const { abort } of this.#inFlight.values()) abort.abort(new Error("shutting down"));
  }
}
