import { describe, expect, it } from "vitest";
import type { RunRecord } from "../types.js";
import { joinedScope, type PendingRun, RunQueue } from "./queue.js";

const clock = { now: () => Date.now() };
const record = (target: string, run: PendingRun): RunRecord => ({
  id: run.id,
  target,
  trigger: run.trigger,
  startedAt: "x",
  result: "applied",
  drift: false,
  log: "",
});

describe("RunQueue", () => {
  it("coalesces requests into the queued run, keeping the most deliberate trigger and a destroy", async () => {
    const started: PendingRun[] = [];
    let finish!: () => void;
    const queue = new RunQueue({
      maxDeciding: 4,
      clock,
      afterRun: () => undefined,
      execute: async (target, run) => {
        started.push(run);
        if (started.length === 1) {
          await new Promise<void>((r) => {
            finish = r;
          });
        }
        run.settle(record(target, run));
      },
    });
    const first = queue.enqueue("a", { trigger: "interval", force: false });
    const second = queue.enqueue("a", { trigger: "interval", force: false });
    const third = queue.enqueue("a", { kind: "destroy", trigger: "webhook", force: true });
    expect(second.id).toBe(third.id);
    expect(second.id).not.toBe(first.id);
    expect(queue.depth).toBe(1);
    finish();
    await queue.whenIdle();
    expect(started.map((r) => [r.kind, r.trigger, r.force])).toEqual([
      ["reconcile", "interval", false],
      ["destroy", "webhook", true],
    ]);
  });

  it("keeps the commit pushes name only while the coalesced requests agree on it", async () => {
    const started: PendingRun[] = [];
    const holds: (() => void)[] = [];
    const queue = new RunQueue({
      maxDeciding: 4,
      clock,
      afterRun: () => undefined,
      execute: async (target, run) => {
        started.push(run);
        await new Promise<void>((r) => holds.push(r));
        run.settle(record(target, run));
      },
    });
    // Releases the run in progress once it started, and waits for the next to start.
    const next = async (count: number) => {
      while (holds.length === 0) await new Promise((r) => setImmediate(r));
      holds.shift()?.();
      while (started.length < count) await new Promise((r) => setImmediate(r));
    };
    queue.enqueue("a", { trigger: "webhook", force: false, pushed: "a1" });
    queue.enqueue("a", { trigger: "webhook", force: false, pushed: "a2" });
    queue.enqueue("a", { trigger: "webhook", force: false, pushed: "a2" });
    await next(2);
    queue.enqueue("a", { trigger: "webhook", force: false, pushed: "a3" });
    queue.enqueue("a", { trigger: "webhook", force: false, pushed: "a4" });
    await next(3);
    await next(3);
    await queue.whenIdle();
    // The run in progress keeps its commit; the queued one keeps a commit all its requests named.
    expect(started.map((r) => r.pushed)).toEqual(["a1", "a2", undefined]);
  });

  it("adds up watches' refresh scopes, keeps one beside a revision check, and runs in full for anything else", () => {
    const queued = (trigger: PendingRun["trigger"], refreshScope?: string[], force = false) =>
      ({ kind: "reconcile", trigger, force, ...(refreshScope ? { refreshScope } : {}) }) as PendingRun;
    expect(
      joinedScope(queued("watch", ["u1", "u2"]), {
        trigger: "watch",
        force: false,
        refreshScope: ["u2", "u3"],
      }),
    ).toEqual(["u1", "u2", "u3"]);
    expect(joinedScope(queued("watch", ["u1"]), { trigger: "interval", force: false })).toEqual(["u1"]);
    expect(joinedScope(queued("startup"), { trigger: "watch", force: false, refreshScope: ["u1"] })).toEqual([
      "u1",
    ]);
    expect(joinedScope(queued("watch", ["u1"]), { trigger: "manual", force: false })).toBeUndefined();
    expect(
      joinedScope(queued("resync"), { trigger: "watch", force: false, refreshScope: ["u1"] }),
    ).toBeUndefined();
    expect(joinedScope(queued("watch", ["u1"]), { trigger: "interval", force: true })).toBeUndefined();
  });

  it("lets more runs decide while decided runs wait for a lease or an engine slot", async () => {
    const waiting: (() => void)[] = [];
    const queue = new RunQueue({
      maxDeciding: 2,
      clock,
      afterRun: () => undefined,
      execute: async (target, run, decided) => {
        decided();
        await new Promise<void>((r) => waiting.push(r));
        run.settle(record(target, run));
      },
    });
    for (const t of ["a", "b", "c", "d", "e"]) queue.enqueue(t, { trigger: "webhook", force: false });
    // All five decided and wait; none holds a decision slot.
    expect(waiting).toHaveLength(5);
    for (const release of waiting) release();
    await queue.whenIdle();
  });

  it("bounds runs deciding at once until they decide or end", async () => {
    const ends: (() => void)[] = [];
    const queue = new RunQueue({
      maxDeciding: 2,
      clock,
      afterRun: () => undefined,
      execute: async (target, run) => {
        await new Promise<void>((r) => ends.push(r));
        run.settle(record(target, run));
      },
    });
    for (const t of ["a", "b", "c"]) queue.enqueue(t, { trigger: "webhook", force: false });
    expect(ends).toHaveLength(2);
    ends[0]?.();
    await new Promise((r) => setTimeout(r, 0));
    expect(ends).toHaveLength(3);
    for (const end of ends.slice(1)) end();
    await queue.whenIdle();
  });

  it("hands what a run resolved to to afterRun once the run is no longer in progress", async () => {
    const seen: [string, number | undefined, boolean][] = [];
    const queue: RunQueue<number> = new RunQueue<number>({
      maxDeciding: 1,
      clock,
      afterRun: (target, outcome) => seen.push([target, outcome, queue.busy(target)]),
      execute: async (target, run) => {
        run.settle(record(target, run));
        return 7;
      },
    });
    await queue.enqueue("a", { trigger: "manual", force: true }).done;
    await queue.whenIdle();
    expect(seen).toEqual([["a", 7, false]]);
  });

  it("settles queued runs as skipped once stopped", async () => {
    const queue = new RunQueue({
      maxDeciding: 0,
      clock,
      afterRun: () => undefined,
      execute: async () => undefined,
    });
    const queued = queue.enqueue("a", { trigger: "manual", force: true });
    queue.dropPending("a", "the reconciler stopped");
    expect(await queued.done).toMatchObject({ result: "skipped", log: "the reconciler stopped" });
  });
});
