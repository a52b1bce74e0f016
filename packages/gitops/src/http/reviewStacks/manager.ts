/**
 * Review stacks: a live environment per pull request. A pull request that
 * concerns a target with `reviewStacks` gets the target `<target>-pr-<n>`
 * (see `Reconciler.addReviewStack`), applied on open and on each push (a run
 * of an older head is cancelled), destroyed and removed on close or after the
 * `ttl` since the last push, or once `reviewStacks` is removed from the
 * target; beyond `maxConcurrent` pull requests wait, served in order. Each is
 * recorded in the store, so a restart destroys those whose pull request closed
 * meanwhile; a destroy that fails is retried with backoff and shown as
 * `stalled`. One comment per pull request, a commit status
 * `driftless/review-<target>`, and create/destroy/prune in the audit log.
 */
import type { Logger } from "pino";
import { pathMatches, refMatches } from "../../git/match.js";
import { repoIdentity } from "../../git/repo.js";
import type { GitHost, HostRepo } from "../../notify/hosts.js";
import { headline, type Notifier } from "../../notify/notifier.js";
import type { Clock } from "../../options.js";
import { reviewTargetName } from "../../pipelines/reviewStacks.js";
import type { Reconciler } from "../../reconciler.js";
import { substitute } from "../../spec/reviewStacks.js";
import type { ResolvedTarget } from "../../spec/spec.js";
import type { AuditStore, ReviewStackRecord, ReviewStackState } from "../../store/store.js";
import type { PullRequestEvent } from "../pullRequest.js";
import { reviewComment, reviewMarker } from "./views.js";

/** Options of {@link ReviewStacks}. */
export interface ReviewStacksOptions {
  /**
   * Give pull requests from forks a review stack too. It runs the fork's program with the target's
   * secrets and applies it: only where every fork author may.
   * @default false
   */
  readonly forks?: boolean;
  /** Time, for `ttl` (tests pass a fake one). @default Date */
  readonly clock?: Clock;
  /** Where create, destroy and prune are recorded. @default - not audited */
  readonly audit?: Pick<AuditStore, "appendAudit">;
  /** First wait before a failed destroy is tried again; doubles each time. @default 10_000 */
  readonly retryBaseMs?: number;
  /** Longest wait between destroy attempts. @default 600_000 */
  readonly retryMaxMs?: number;
  /** How often the `ttl` is checked while {@link ReviewStacks.start}ed. @default 60_000 */
  readonly sweepEveryMs?: number;
  readonly logger?: Logger;
}

/** What a pull request event did to review stacks. */
export interface ReviewStackOutcome {
  /**
   * Targets whose review stack the event (an open or a push) concerns, once the changed files are
   * checked; beyond `maxConcurrent` it waits instead (its comment says so).
   */
  readonly applying: readonly string[];
  /** Targets whose review stack a close destroys. */
  readonly destroying: readonly string[];
  /** Targets that give this pull request no review stack, and why (a fork, no Git host). */
  readonly skipped: readonly { readonly target: string; readonly reason: string }[];
}

/** Why a review stack is destroyed: its pull request closed, its `ttl`, a retry, or its target's `reviewStacks` removed. */
type CloseReason = "closed" | "ttl" | "retry" | "disabled";

/** What the audit log (`detail`) and the pull request's comment (`note`) say of a destroy, by its reason. */
function closeWords(
  target: ResolvedTarget,
  number: number,
  why: CloseReason,
): { detail: string; note: string } {
  if (why === "disabled") {
    const note = `Destroyed: \`reviewStacks\` was removed from \`${target.name}\`.`;
    return { detail: "`reviewStacks` removed from the target", note };
  }
  if (why === "ttl") {
    const ttl = target.reviewStacks?.ttlMs;
    const after = ttl === undefined ? "its ttl" : `${Math.round(ttl / 60_000)} min`;
    const note = `Destroyed: no push for ${after} (\`reviewStacks.ttl\`). Push again to get it back.`;
    return { detail: "ttl since the last push", note };
  }
  return { detail: `pull request #${number} closed`, note: "Destroyed: the pull request was closed." };
}

const OPEN_ACTIONS = new Set(["opened", "reopened", "synchronize", "synchronized"]);
const LIVE: readonly ReviewStackState[] = ["applying", "applied", "failed", "destroying", "stalled"];

/** Why the sweep destroys a review stack now (its target's `reviewStacks` removed, or its `ttl` passed), if it does. */
function sweepReason(base: ResolvedTarget, record: ReviewStackRecord, now: number): CloseReason | undefined {
  if (!base.reviewStacks) return "disabled";
  const ttl = base.reviewStacks.ttlMs;
  if (ttl === undefined || !LIVE.includes(record.state)) return undefined;
  return Date.parse(record.lastPushAt) + ttl <= now ? "ttl" : undefined;
}

/** Creates, updates and destroys the review stacks of pull requests. */
export class ReviewStacks {
  readonly #reconciler: Reconciler;
  readonly #notifier: Notifier;
  readonly #options: ReviewStacksOptions;
  readonly #clock: Clock;
  /** Work per review stack, one after another, so an open and a close never cross. */
  readonly #chains = new Map<string, Promise<void>>();
  /** The run in flight per review stack, cancelled by a newer push or the close. */
  readonly #runs = new Map<string, { readonly id: string; readonly abort: AbortController }>();
  readonly #retries = new Map<string, NodeJS.Timeout>();
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(reconciler: Reconciler, notifier: Notifier, options: ReviewStacksOptions = {}) {
    this.#reconciler = reconciler;
    this.#notifier = notifier;
    this.#options = options;
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  /** Starts (or stops) the review stacks an event asks for and returns at once. */
  handle(event: PullRequestEvent): ReviewStackOutcome {
    const urls = new Set(event.repoUrls.map(repoIdentity));
    const targets = this.#reconciler
      .targets()
      .filter(
        (t) =>
          t.reviewStacks &&
          urls.has(repoIdentity(t.repo)) &&
          refMatches(t.ref, `refs/heads/${event.baseRef}`),
      );
    const outcome = { applying: [] as string[], destroying: [] as string[] };
    const skipped: { target: string; reason: string }[] = [];
    for (const target of targets) {
      if (event.action === "closed") {
        outcome.destroying.push(target.name);
        this.#enqueue(target.name, event.number, () => this.#close(target, event.number, "closed"));
        continue;
      }
      if (!OPEN_ACTIONS.has(event.action)) continue;
      if (event.fork && !(this.#options.forks ?? false)) {
        skipped.push({
          target: target.name,
          reason: "pull request from a fork (set pullRequests.forks to give it a review stack)",
        });
        continue;
      }
      if (!this.#host(target)) {
        skipped.push({ target: target.name, reason: "no Git host in `notify` serves this repository" });
        continue;
      }
      outcome.applying.push(target.name);
      this.#enqueue(target.name, event.number, () => this.#open(target, event));
    }
    return { ...outcome, skipped };
  }

  /**
   * Takes over the recorded review stacks: those whose pull request closed
   * while no reconciler ran are destroyed (the Git host is asked), the others
   * are managed again (one cut short while applying is applied again);
   * stalled destroys are retried. Those of a target whose `reviewStacks` was
   * removed are destroyed (as the recorded stack; see {@link sweep}), those of
   * a target no longer configured are left, with a warning. Then checks the
   * `ttl` periodically. Resolves once every closed one was handled.
   */
  async start(): Promise<void> {
    await this.prune();
    for (const record of await this.#reconciler.reviewStacks.listReviewStacks()) {
      const base = this.#reconciler.target(record.target);
      if (!base) {
        this.#options.logger?.warn(
          { target: record.target, pull: record.number, stack: record.stack },
          "the review stack's target is not configured: it is left as it is until the target is added back",
        );
        continue;
      }
      if (!base.reviewStacks) {
        // Turned off: nothing would ever close it.
        this.#enqueue(base.name, record.number, () => this.#close(base, record.number, "disabled"));
        continue;
      }
      if (record.state === "waiting") continue;
      this.#reconciler.addReviewStack(base.name, record);
      if (record.state === "stalled" || record.state === "destroying") {
        this.#enqueue(base.name, record.number, () => this.#close(base, record.number, "retry"));
      } else if (record.state === "applying") {
        // Its run was cut short by the stop: run it again, so its comment and status are not left pending.
        this.#enqueue(base.name, record.number, () => this.#apply(base, record, false));
      }
    }
    const every = this.#options.sweepEveryMs ?? 60_000;
    this.#sweeper ??= setInterval(() => void this.sweep().catch(() => undefined), every).unref();
  }

  /**
   * Destroys the review stacks whose pull request is closed on the Git host
   * (and forgets waiting ones); returns `target#number` of each.
   */
  async prune(): Promise<string[]> {
    const pruned: string[] = [];
    for (const record of await this.#reconciler.reviewStacks.listReviewStacks()) {
      const base = this.#reconciler.target(record.target);
      const host = base && this.#host(base);
      if (!base || !host) continue;
      const open = await host.host.pullRequestOpen?.(host.repo, record.number, AbortSignal.timeout(15_000));
      if (open !== false) continue;
      pruned.push(`${record.target}#${record.number}`);
      await this.#audit("review-stack.prune", record, `pull request #${record.number} closed`);
      await this.#enqueue(base.name, record.number, () => this.#close(base, record.number, "closed"));
    }
    return pruned;
  }

  /**
   * Destroys the review stacks whose last push is older than their target's
   * `ttl`, and those of a target whose `reviewStacks` was removed; returns
   * `target#number` of each.
   */
  async sweep(): Promise<string[]> {
    const expired: string[] = [];
    const now = this.#clock.now();
    for (const record of await this.#reconciler.reviewStacks.listReviewStacks()) {
      const base = this.#reconciler.target(record.target);
      if (!base || record.state === "destroying" || record.state === "stalled") continue;
      const why = sweepReason(base, record, now);
      if (!why) continue;
      expired.push(`${record.target}#${record.number}`);
      await this.#enqueue(base.name, record.number, () => this.#close(base, record.number, why));
    }
    return expired;
  }

  /** Resolves when no review stack work is in flight. */
  async whenIdle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all(this.#chains.values());
  }

  /** Stops the `ttl` checks, retries and runs in flight. */
  close(): void {
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const timer of this.#retries.values()) clearTimeout(timer);
    for (const run of this.#runs.values()) run.abort.abort(new Error("shutting down"));
  }

  #enqueue(target: string, number: number, work: () => Promise<void>): Promise<void> {
    const key = `${target}#${number}`;
    const next = (this.#chains.get(key) ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) =>
        this.#options.logger?.error({ err: error, target, pull: number }, "review stack"),
      )
      .finally(() => {
        if (this.#chains.get(key) === next) this.#chains.delete(key);
      });
    this.#chains.set(key, next);
    return next;
  }

  #host(target: ResolvedTarget): { readonly host: GitHost; readonly repo: HostRepo } | undefined {
    for (const host of this.#notifier.hosts) {
      const repo = host.repoOf(target.repo);
      if (repo) return { host, repo };
    }
    return undefined;
  }

  async #open(target: ResolvedTarget, event: PullRequestEvent): Promise<void> {
    const options = target.reviewStacks;
    if (!options || this.#closed) return;
    if (event.baseSha) {
      const changed = await this.#reconciler.changedFiles(
        target.name,
        `refs/pull/${event.number}/head`,
        event.baseSha,
        event.headSha,
      );
      const paths = options.paths ?? [target.path, ...target.watchPaths];
      if (!paths.some((p) => pathMatches(p, changed))) return;
    }
    const store = this.#reconciler.reviewStacks;
    const now = new Date(this.#clock.now()).toISOString();
    const before = await store.getReviewStack(target.name, event.number);
    const branch = event.headRef ?? before?.branch ?? `pr-${event.number}`;
    const record: ReviewStackRecord = {
      target: target.name,
      number: event.number,
      stack: substitute(options.stack, event.number, branch),
      branch,
      headSha: event.headSha,
      state: before?.state ?? "waiting",
      createdAt: before?.createdAt ?? now,
      updatedAt: now,
      lastPushAt: now,
      attempts: 0,
    };
    if (before && (before.state === "destroying" || before.state === "stalled")) {
      await store.putReviewStack({ ...before, headSha: event.headSha, lastPushAt: now, updatedAt: now });
      return;
    }
    if (!before || before.state === "waiting") {
      const live = (await store.listReviewStacks(target.name)).filter((r) => LIVE.includes(r.state));
      const earlier = (await store.listReviewStacks(target.name)).filter(
        (r) => r.state === "waiting" && r.number !== event.number && r.createdAt <= record.createdAt,
      );
      if (live.length >= options.maxConcurrent || earlier.length > 0) {
        await store.putReviewStack({ ...record, state: "waiting" });
        const note = `${live.length} review stack(s) of \`${target.name}\` are live (\`maxConcurrent: ${options.maxConcurrent}\`); this pull request waits and gets one when another closes.`;
        this.#comment(target, event.number, reviewComment({ ...record, state: "waiting" }, { note }));
        this.#status(target, event.headSha, "pending", "waiting for a review stack slot");
        return;
      }
    }
    await this.#apply(
      target,
      { ...record, state: "applying" },
      before === undefined || before.state === "waiting",
    );
  }

  /** Registers the review stack's target, runs it, and reports the result. */
  async #apply(target: ResolvedTarget, record: ReviewStackRecord, created: boolean): Promise<void> {
    const store = this.#reconciler.reviewStacks;
    const name = reviewTargetName(target.name, record.number);
    await store.putReviewStack(record);
    this.#reconciler.addReviewStack(target.name, record);
    if (created) await this.#audit("review-stack.create", record, `stack ${record.stack}`);
    this.#status(target, record.headSha, "pending", `applying review stack ${record.stack}`);
    this.#comment(target, record.number, reviewComment(record));
    const key = `${target.name}#${record.number}`;
    const abort = new AbortController();
    const queued = await this.#reconciler.request(name, {
      trigger: "webhook",
      force: true,
      signal: abort.signal,
    });
    // A run of an older head that is under way is cancelled; a queued one was joined (it fetches the newest head).
    const older = this.#runs.get(key);
    if (older && older.id !== queued.id) older.abort.abort(new Error("a newer push to the pull request"));
    this.#runs.set(key, { id: queued.id, abort });
    // Not awaited: the chain moves on, so a close or a newer push is not held up by this run.
    void queued.done
      .then(async (run) => {
        if (this.#runs.get(key)?.abort === abort) this.#runs.delete(key);
        const now = await store.getReviewStack(target.name, record.number);
        if (!now || now.state !== "applying" || now.headSha !== record.headSha) return;
        const ok = run.result === "applied" || run.result === "unchanged" || run.result === "drift-corrected";
        const error = ok ? undefined : this.#notifier.redact(run.error ?? `the run ended ${run.result}`);
        const next: ReviewStackRecord = {
          ...now,
          state: ok ? "applied" : "failed",
          updatedAt: new Date(this.#clock.now()).toISOString(),
          ...(error ? { error } : {}),
        };
        if (ok) delete (next as { error?: string }).error;
        await store.putReviewStack(next);
        const outputs = ok ? (await this.#reconciler.status(name)).outputs : undefined;
        this.#comment(target, record.number, reviewComment(next, outputs ? { outputs } : {}));
        this.#status(
          target,
          record.headSha,
          ok ? "success" : "failure",
          ok ? `review stack ${record.stack} applied` : `review stack failed: ${headline(error ?? "")}`,
        );
      })
      .catch((error: unknown) =>
        this.#options.logger?.error({ err: error, target: target.name, pull: record.number }, "review stack"),
      );
  }

  /** Destroys a review stack and forgets it; a failure is retried with backoff (state `stalled`). */
  async #close(target: ResolvedTarget, number: number, why: CloseReason): Promise<void> {
    const store = this.#reconciler.reviewStacks;
    const record = await store.getReviewStack(target.name, number);
    if (!record) return;
    this.#retries.delete(`${target.name}#${number}`);
    if (record.state === "waiting") {
      await store.deleteReviewStack(target.name, number);
      const note = why === "disabled" ? closeWords(target, number, why).note : "Closed before its turn.";
      this.#comment(target, number, reviewComment({ ...record, state: "destroyed" }, { note }));
      return;
    }
    this.#runs.get(`${target.name}#${number}`)?.abort.abort(new Error(`pull request #${number} was closed`));
    const name = reviewTargetName(target.name, number);
    const destroying: ReviewStackRecord = {
      ...record,
      state: record.state === "stalled" ? "stalled" : "destroying",
      updatedAt: new Date(this.#clock.now()).toISOString(),
    };
    await store.putReviewStack(destroying);
    if (why !== "retry")
      await this.#audit("review-stack.destroy", record, closeWords(target, number, why).detail);
    this.#options.logger?.info(
      { target: target.name, pull: number, stack: record.stack, why },
      "destroying a review stack",
    );
    let run: Awaited<ReturnType<Reconciler["removeTarget"]>>;
    try {
      // A record naming the base target's own stack is refused here, and shown as stalled.
      if (!this.#reconciler.target(name)) this.#reconciler.addReviewStack(target.name, record);
      run = await this.#reconciler.removeTarget(name);
    } catch (error) {
      run = undefined;
      await this.#stalled(target, destroying, error instanceof Error ? error.message : String(error));
      return;
    }
    if (run && run.result !== "destroyed") {
      await this.#stalled(target, destroying, run.error ?? `the destroy ended ${run.result}`);
      return;
    }
    await store.deleteReviewStack(target.name, number);
    const { note } = closeWords(target, number, why);
    this.#comment(target, number, reviewComment({ ...record, state: "destroyed" }, { note }));
    await this.#admitNext(target);
  }

  async #stalled(target: ResolvedTarget, record: ReviewStackRecord, message: string): Promise<void> {
    const attempts = record.attempts + 1;
    const error = this.#notifier.redact(message);
    const stalled: ReviewStackRecord = {
      ...record,
      state: "stalled",
      attempts,
      error,
      updatedAt: new Date(this.#clock.now()).toISOString(),
    };
    await this.#reconciler.reviewStacks.putReviewStack(stalled);
    this.#comment(target, record.number, reviewComment(stalled));
    this.#options.logger?.warn(
      { target: target.name, pull: record.number, attempts, err: error },
      "review stack destroy failed",
    );
    if (this.#closed) return;
    const base = this.#options.retryBaseMs ?? 10_000;
    const delay = Math.min(base * 2 ** (attempts - 1), this.#options.retryMaxMs ?? 600_000);
    const key = `${target.name}#${record.number}`;
    this.#retries.set(
      key,
      setTimeout(
        () =>
          void this.#enqueue(target.name, record.number, () => this.#close(target, record.number, "retry")),
        delay,
      ).unref(),
    );
  }

  /** Starts the oldest waiting pull request of a target when a slot is free. */
  async #admitNext(target: ResolvedTarget): Promise<void> {
    const options = target.reviewStacks;
    if (!options || this.#closed) return;
    const records = await this.#reconciler.reviewStacks.listReviewStacks(target.name);
    const live = records.filter((r) => LIVE.includes(r.state)).length;
    const waiting = records.filter((r) => r.state === "waiting");
    for (const next of waiting.slice(0, Math.max(0, options.maxConcurrent - live))) {
      void this.#enqueue(target.name, next.number, () =>
        this.#apply(
          target,
          { ...next, state: "applying", updatedAt: new Date(this.#clock.now()).toISOString() },
          true,
        ),
      );
    }
  }

  #comment(target: ResolvedTarget, number: number, body: string): void {
    const found = this.#host(target);
    if (!found) return;
    const { host, repo } = found;
    this.#notifier.queue.push(host.kind, `review stack comment on #${number}`, (signal) =>
      host.upsertComment(repo, number, reviewMarker(target.name), this.#notifier.redact(body), signal),
    );
  }

  #status(target: ResolvedTarget, sha: string, state: "pending" | "success" | "failure", text: string): void {
    this.#notifier.setStatus(target.repo, sha, `review-${target.name}`, state, text);
  }

  async #audit(action: string, record: ReviewStackRecord, detail: string): Promise<void> {
    await this.#options.audit
      ?.appendAudit({
        actor: "driftless",
        action,
        target: record.target,
        outcome: "ok",
        status: 200,
        requestId: `review-${record.target}-${record.number}-${this.#clock.now()}`,
        detail: `pull request #${record.number}, stack ${record.stack}: ${detail}`,
      })
      .catch((error: unknown) =>
        this.#options.logger?.error({ err: error }, "could not append to the audit log"),
      );
  }
}
