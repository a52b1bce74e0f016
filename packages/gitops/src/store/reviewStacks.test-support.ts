// The review-stack part of the store contract, called from store.contract.test.ts beside the
// other parts (audit, leases, personal tokens, resource history).
import { expect, it } from "vitest";
import type { ReviewStackRecord, Store } from "./store.js";

const record = (
  target: string,
  number: number,
  extra: Partial<ReviewStackRecord> = {},
): ReviewStackRecord => ({
  target,
  number,
  stack: `pr-${number}`,
  branch: `feature-${number}`,
  headSha: "a".repeat(40),
  state: "applying",
  createdAt: `2026-01-0${number}T00:00:00.000Z`,
  updatedAt: `2026-01-0${number}T00:00:00.000Z`,
  lastPushAt: `2026-01-0${number}T00:00:00.000Z`,
  attempts: 0,
  ...extra,
});

/** Review stacks: one record per target and pull request, replaced in place, listed oldest first, seen by every process. */
export function reviewStackContract(open: () => Promise<Store>): void {
  it("keeps one review stack record per target and pull request, for every process", async () => {
    const store = await open();
    const other = await open();
    expect(await store.reviewStacks.getReviewStack("web", 1)).toBeUndefined();
    await store.reviewStacks.putReviewStack(record("web", 2));
    await store.reviewStacks.putReviewStack(record("web", 1));
    await store.reviewStacks.putReviewStack(record("api", 3));
    const stalled = record("web", 2, {
      state: "stalled",
      headSha: "b".repeat(40),
      updatedAt: "2026-02-01T00:00:00.000Z",
      commentId: "77",
      error: "destroy failed",
      attempts: 3,
    });
    await other.reviewStacks.putReviewStack(stalled);
    expect(await store.reviewStacks.getReviewStack("web", 2)).toEqual(stalled);
    expect(await store.reviewStacks.getReviewStack("web", 1)).toEqual(record("web", 1));
    expect((await other.reviewStacks.listReviewStacks("web")).map((r) => r.number)).toEqual([1, 2]);
    expect((await other.reviewStacks.listReviewStacks()).map((r) => `${r.target}#${r.number}`)).toEqual([
      "web#1",
      "web#2",
      "api#3",
    ]);
    expect(await other.reviewStacks.deleteReviewStack("web", 1)).toBe(true);
    expect(await store.reviewStacks.deleteReviewStack("web", 1)).toBe(false);
    expect((await store.reviewStacks.listReviewStacks("web")).map((r) => r.number)).toEqual([2]);
  });
}
