// The review stack lifecycle against a fake reconciler and Git host (the real engine and Gitea are in
// test/reviewStacks.test.ts): a failed apply, a failed destroy retried with backoff, the ttl on a fake
// clock, the maxConcurrent queue served in order, forks.
import { afterEach, describe, expect, it } from "vitest";
import type { Notifier } from "../../notify/notifier.js";
import { reviewTarget } from "../../pipelines/reviewStacks.js";
import type { Reconciler } from "../../reconciler.js";
import { type ResolvedTarget, resolveTarget } from "../../spec/spec.js";
import { SqliteStore } from "../../store/sqlite/store.js";
import type { ReviewStackRecord } from "../../store/store.js";
import type { RunRecord } from "../../types.js";
import type { PullRequestEvent } from "../pullRequest.js";
import { ReviewStacks } from "./manager.js";

const REPO = "https://git.example.com/acme/shop.git";

function harness(
  options: {
    readonly applyResults?: string[];
    readonly destroyResults?: string[];
    readonly closed?: readonly number[];
    readonly store?: SqliteStore;
    /** Runs stay under way until the test ends them (`release`). */
    readonly hold?: boolean;
    /** The base target as configured now: without `reviewStacks`, or not at all. */
    readonly base?: "no-review-stacks" | "removed";
  } = {},
) {
  const store = options.store ?? new SqliteStore(":memory:");
  let base = resolveTarget(
    {
      name: "shop",
      repo: REPO,
      stack: "prod",
      ...(options.base ? {} : { reviewStacks: { stack: "pr-{number}", ttl: "1h", maxConcurrent: 1 } }),
    },
    { dataDir: "/nonexistent" },
  );
  const baseRemoved = options.base === "removed";
  /** The stacks destroyed, in order. */
  const destroyed: string[] = [];
  const added = new Map<string, ResolvedTarget>();
  const applyResults = [...(options.applyResults ?? [])];
  const destroyResults = [...(options.destroyResults ?? [])];
  const requested: string[] = [];
  const signals: AbortSignal[] = [];
  const held: (() => void)[] = [];
  let seq = 0;
  const run = (target: string, result: string, error?: string) =>
    ({
      id: `run-${++seq}`,
      target,
      trigger: "webhook",
      startedAt: "2026-01-01T00:00:00.000Z",
      result,
      drift: false,
      log: "",
      ...(error ? { error } : {}),
    }) as RunRecord;
  const reconciler = {
    targets: () => [...(baseRemoved ? [] : [base]), ...added.values()],
    target: (name: string) => (name === base.name ? (baseRemoved ? undefined : base) : added.get(name)),
    reviewStacks: store.reviewStacks,
    addReviewStack: (_base: string, pull: { number: number; branch: string; stack?: string }) => {
      const derived = reviewTarget(base, pull);
      added.set(derived.name, derived);
      return derived;
    },
    request: async (name: string, request: { signal?: AbortSignal }) => {
      requested.push(name);
      if (request.signal) signals.push(request.signal);
      const result = applyResults.shift() ?? "applied";
      const record = run(name, result, result === "failed" ? "TypeError: boom in index.js" : undefined);
      const done = options.hold
        ? new Promise<RunRecord>((resolve) => held.push(() => resolve(record)))
        : Promise.resolve(record);
      return { id: `queued-${seq}`, target: name, done };
    },
    removeTarget: async (name: string) => {
      const result = destroyResults.shift() ?? "destroyed";
      destroyed.push(added.get(name)?.stack ?? `${name} (not added)`);
      if (result === "destroyed") added.delete(name);
      return run(name, result, result === "destroyed" ? undefined : "provider said no");
    },
    status: async (name: string) => ({
      name,
      conditions: [],
      updatedAt: "",
      outputs: { url: "http://pr.example/shop", token: "[secret]" },
    }),
    changedFiles: async () => undefined,
  } as unknown as Reconciler;
  const comments = new Map<number, string[]>();
  const statuses: { target: string; state: string; text: string }[] = [];
  const host = {
    kind: "gitea",
    repoOf: (url: string) => (url === REPO ? { owner: "acme", name: "shop" } : undefined),
    upsertComment: async (_repo: unknown, pull: number, _marker: string, body: string) => {
      comments.set(pull, [...(comments.get(pull) ?? []), body]);
    },
    setStatus: async () => undefined,
    pullRequestOpen: async (_repo: unknown, pull: number) => !(options.closed ?? []).includes(pull),
  };
  const notifier = {
    hosts: [host],
    queue: {
      push: (_kind: string, _what: string, send: (s: AbortSignal) => Promise<void>) =>
        void send(new AbortController().signal),
    },
    redact: (text: string) => text,
    setStatus: (_repo: string, _sha: string, target: string, state: string, text: string) =>
      statuses.push({ target, state, text }),
  } as unknown as Notifier;
  let now = Date.parse("2026-03-01T10:00:00.000Z");
  const clock = { now: () => now };
  const stacks = new ReviewStacks(reconciler, notifier, { clock, retryBaseMs: 5, retryMaxMs: 20 });
  const event = (
    action: string,
    number: number,
    extra: Partial<PullRequestEvent> = {},
  ): PullRequestEvent => ({
    action,
    number,
    repoUrls: [REPO],
    baseRef: "main",
    headSha: `${number}`.repeat(40).slice(0, 40),
    headRef: `feature-${number}`,
    fork: false,
    ...extra,
  });
  /** Lets the runs' completions (promise callbacks) and the queued work settle. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await stacks.whenIdle();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const lastComment = (pull: number) => comments.get(pull)?.at(-1) ?? "";
  return {
    store,
    stacks,
    event,
    settle,
    comments,
    lastComment,
    statuses,
    requested,
    signals,
    release: () => {
      for (const end of held.splice(0)) end();
    },
    added,
    destroyed,
    advance: (ms: number) => {
      now += ms;
    },
    /** The base target's `reviewStacks` removed while running. */
    disableReviewStacks: () => {
      base = { ...base, reviewStacks: undefined };
    },
  };
}

let open: ReturnType<typeof harness>[] = [];
const make = (options?: Parameters<typeof harness>[0]) => {
  const h = harness(options);
  open.push(h);
  return h;
};
/** A store with pull request #1's review stack applied and its record then changed by `edit`, as a stopped process left it. */
async function leftBehind(edit: Partial<ReviewStackRecord>): Promise<SqliteStore> {
  const before = make();
  before.stacks.handle(before.event("opened", 1));
  await before.settle();
  const record = await before.store.reviewStacks.getReviewStack("shop", 1);
  await before.store.reviewStacks.putReviewStack({ ...(record as ReviewStackRecord), ...edit });
  before.stacks.close();
  return before.store;
}
afterEach(async () => {
  for (const h of open) {
    h.stacks.close();
    await h.store.close();
  }
  open = [];
});

describe("ReviewStacks", () => {
  it("applies an opened pull request: success status, one comment with outputs as links", async () => {
    const h = make();
    expect(h.stacks.handle(h.event("opened", 1))).toMatchObject({ applying: ["shop"] });
    await h.settle();
    expect(await h.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({
      state: "applied",
      stack: "pr-1",
    });
    expect(h.requested).toEqual(["shop-pr-1"]);
    expect(h.statuses.map((s) => `${s.target} ${s.state}`)).toEqual([
      "review-shop pending",
      "review-shop success",
    ]);
    expect(h.lastComment(1)).toContain("[http://pr.example/shop](http://pr.example/shop)");
    expect(h.lastComment(1)).toContain("`[secret]`");
  });

  it("cancels the run of an older head when the pull request gets a newer push", async () => {
    const h = make({ hold: true });
    h.stacks.handle(h.event("opened", 1));
    await h.settle();
    h.stacks.handle(h.event("synchronized", 1, { headSha: "f".repeat(40) }));
    await h.settle();
    expect(h.requested).toEqual(["shop-pr-1", "shop-pr-1"]);
    expect(h.signals.map((s) => s.aborted)).toEqual([true, false]);
    h.release();
    await h.settle();
    // Only the newest head's result is reported.
    expect(await h.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({
      state: "applied",
      headSha: "f".repeat(40),
    });
    expect(h.statuses.filter((s) => s.state === "success")).toHaveLength(1);
  });

  it("reports a failed apply as failure with the error", async () => {
    const h = make({ applyResults: ["failed"] });
    h.stacks.handle(h.event("opened", 1));
    await h.settle();
    expect(await h.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({
      state: "failed",
      error: "TypeError: boom in index.js",
    });
    expect(h.statuses.at(-1)).toMatchObject({ state: "failure", text: expect.stringContaining("boom") });
    expect(h.lastComment(1)).toContain("TypeError: boom in index.js");
  });

  it("retries a failed destroy with backoff, shown as Stalled, until it succeeds", async () => {
    const h = make({ destroyResults: ["failed", "failed", "destroyed"] });
    h.stacks.handle(h.event("opened", 1));
    await h.settle();
    h.stacks.handle(h.event("closed", 1));
    await h.settle();
    const comments = h.comments.get(1) ?? [];
    expect(comments.some((c) => c.includes("Stalled") && c.includes("provider said no"))).toBe(true);
    for (let i = 0; i < 50 && (await h.store.reviewStacks.getReviewStack("shop", 1)); i++) await h.settle();
    expect(await h.store.reviewStacks.getReviewStack("shop", 1)).toBeUndefined();
    expect(h.added.has("shop-pr-1")).toBe(false);
    expect(h.lastComment(1)).toContain("destroyed");
  });

  it("destroys a review stack once its ttl since the last push passed, on the injected clock", async () => {
    const h = make();
    h.stacks.handle(h.event("opened", 1));
    await h.settle();
    h.advance(59 * 60_000);
    expect(await h.stacks.sweep()).toEqual([]);
    h.stacks.handle(h.event("synchronized", 1, { headSha: "f".repeat(40) }));
    await h.settle();
    h.advance(59 * 60_000);
    expect(await h.stacks.sweep()).toEqual([]);
    h.advance(2 * 60_000);
    expect(await h.stacks.sweep()).toEqual(["shop#1"]);
    await h.settle();
    expect(await h.store.reviewStacks.getReviewStack("shop", 1)).toBeUndefined();
    expect(h.lastComment(1)).toContain("reviewStacks.ttl");
  });

  it("makes pull requests beyond maxConcurrent wait, and starts them in order as stacks close", async () => {
    const h = make();
    for (const n of [1, 2, 3]) {
      h.stacks.handle(h.event("opened", n));
      await h.settle();
    }
    expect(
      (await h.store.reviewStacks.listReviewStacks("shop")).map((r) => `${r.number} ${r.state}`),
    ).toEqual(["1 applied", "2 waiting", "3 waiting"]);
    expect(h.lastComment(3)).toContain("maxConcurrent: 1");
    h.stacks.handle(h.event("closed", 1));
    await h.settle();
    expect(
      (await h.store.reviewStacks.listReviewStacks("shop")).map((r) => `${r.number} ${r.state}`),
    ).toEqual(["2 applied", "3 waiting"]);
    // Closing a waiting pull request forgets it without a run.
    h.stacks.handle(h.event("closed", 3));
    await h.settle();
    expect(h.requested).toEqual(["shop-pr-1", "shop-pr-2"]);
  });

  it("destroys at start the stack of a pull request closed meanwhile, and starts the one that waited for it", async () => {
    const before = make();
    for (const n of [1, 2]) {
      before.stacks.handle(before.event("opened", n));
      await before.settle();
    }
    before.stacks.close();
    // A new process on the same store: pull request #1 closed while none ran.
    const after = make({ store: before.store, closed: [1] });
    await after.stacks.start();
    await after.settle();
    expect((await after.store.reviewStacks.listReviewStacks()).map((r) => `${r.number} ${r.state}`)).toEqual([
      "2 applied",
    ]);
    expect(after.requested).toEqual(["shop-pr-2"]);
    expect(after.lastComment(1)).toContain("destroyed");
  });

  it("destroys the review stacks of a target whose reviewStacks was removed, as the stacks they were", async () => {
    const h = make();
    for (const n of [1, 2]) {
      h.stacks.handle(h.event("opened", n));
      await h.settle();
    }
    h.disableReviewStacks();
    expect((await h.stacks.sweep()).sort()).toEqual(["shop#1", "shop#2"]);
    await h.settle();
    // The live one destroyed as it was created; the waiting one had nothing to destroy.
    expect(h.destroyed).toEqual(["pr-1"]);
    expect(await h.store.reviewStacks.listReviewStacks()).toEqual([]);
    expect(h.lastComment(1)).toContain("`reviewStacks` was removed from `shop`");
    expect(h.lastComment(2)).toContain("`reviewStacks` was removed from `shop`");
  });

  it("destroys at start the recorded stacks of a target without reviewStacks, and leaves those of a removed target", async () => {
    const store = await leftBehind({});
    const removed = make({ store, base: "removed" });
    await removed.stacks.start();
    await removed.settle();
    expect(removed.destroyed).toEqual([]);
    expect(await removed.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({ state: "applied" });
    removed.stacks.close();
    // The template is gone with `reviewStacks`: the record names the stack.
    const after = make({ store, base: "no-review-stacks" });
    await after.stacks.start();
    await after.settle();
    expect(after.destroyed).toEqual(["pr-1"]);
    expect(after.requested).toEqual([]);
    expect(await after.store.reviewStacks.listReviewStacks()).toEqual([]);
  });

  it("never destroys the base target's own stack, whatever a record says", async () => {
    const store = await leftBehind({ stack: "prod" });
    const after = make({ store, base: "no-review-stacks" });
    await after.stacks.start();
    await after.settle();
    expect(after.destroyed).toEqual([]);
    expect(await after.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({
      state: "stalled",
      error: expect.stringContaining("would be the target's own stack"),
    });
  });

  it("applies again at start a review stack whose run was cut short", async () => {
    const store = await leftBehind({ state: "applying" });
    const after = make({ store });
    await after.stacks.start();
    await after.settle();
    expect(after.requested).toEqual(["shop-pr-1"]);
    expect(await after.store.reviewStacks.getReviewStack("shop", 1)).toMatchObject({ state: "applied" });
  });

  it("gives a fork's pull request no review stack unless forks are allowed", async () => {
    const h = make();
    expect(h.stacks.handle(h.event("opened", 4, { fork: true }))).toMatchObject({
      applying: [],
      skipped: [{ target: "shop", reason: expect.stringContaining("fork") }],
    });
    await h.settle();
    expect(await h.store.reviewStacks.listReviewStacks()).toEqual([]);
  });
});
