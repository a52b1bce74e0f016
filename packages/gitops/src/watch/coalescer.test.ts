import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type CoalescedChanges, Coalescer } from "./coalescer.js";

describe("Coalescer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands a target's changes over once, a window after the first, with the earliest time", () => {
    const flushed: [string, CoalescedChanges][] = [];
    const coalescer = new Coalescer(1000, (target, changes) => flushed.push([target, changes]));
    coalescer.add("shop", ["urn:a"], 500);
    vi.advanceTimersByTime(400);
    coalescer.add("shop", ["urn:b", "urn:a"], 300);
    coalescer.add("blog", ["urn:c"], 900);
    expect(flushed).toEqual([]);
    expect(coalescer.pending("shop")).toBe(true);
    vi.advanceTimersByTime(600);
    expect(flushed).toEqual([["shop", { urns: ["urn:a", "urn:b"], since: 300 }]]);
    expect(coalescer.pending("shop")).toBe(false);
    vi.advanceTimersByTime(400);
    expect(flushed.map(([t]) => t)).toEqual(["shop", "blog"]);
  });

  it("opens a new window for changes after a flush", () => {
    const flushed: string[][] = [];
    const coalescer = new Coalescer(1000, (_t, changes) => flushed.push([...changes.urns]));
    coalescer.add("shop", ["urn:a"], 0);
    vi.advanceTimersByTime(1000);
    coalescer.add("shop", ["urn:b"], 1000);
    vi.advanceTimersByTime(1000);
    expect(flushed).toEqual([["urn:a"], ["urn:b"]]);
  });

  it("drops waiting changes and their timers", () => {
    const flush = vi.fn();
    const coalescer = new Coalescer(1000, flush);
    coalescer.add("shop", ["urn:a"], 0);
    coalescer.add("blog", ["urn:b"], 0);
    coalescer.drop("shop");
    coalescer.clear();
    vi.advanceTimersByTime(5000);
    expect(flush).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("holds changes whose window ends during a run of the target until the run ends", () => {
    let running = true;
    const flushed: [string, CoalescedChanges][] = [];
    const coalescer = new Coalescer(1000, (target, changes) => flushed.push([target, changes]), {
      inRun: (target) => target === "shop" && running,
    });
    coalescer.add("shop", ["urn:a"], 100, 100);
    coalescer.add("blog", ["urn:c"], 100, 100);
    vi.advanceTimersByTime(1000);
    coalescer.add("shop", ["urn:b"], 50, 1100);
    vi.advanceTimersByTime(1000);
    expect(flushed).toEqual([["blog", { urns: ["urn:c"], since: 100 }]]);
    expect(coalescer.pending("shop")).toBe(true);
    running = false;
    coalescer.runEnded("shop");
    expect(flushed[1]).toEqual(["shop", { urns: ["urn:a", "urn:b"], since: 50 }]);
    expect(coalescer.pending("shop")).toBe(false);
    coalescer.runEnded("shop");
    expect(flushed).toHaveLength(2);
  });

  it("drops changes seen before a run refreshed every resource, and checks those seen after", () => {
    let running = true;
    const flushed: string[][] = [];
    const covered: string[][] = [];
    const coalescer = new Coalescer(1000, (_t, changes) => flushed.push([...changes.urns]), {
      inRun: () => running,
      covered: (_t, changes) => covered.push([...changes.urns]),
    });
    // Seen before the refresh began (at 500): its window ends during the run, which read it.
    coalescer.add("shop", ["urn:a"], 0, 400);
    vi.advanceTimersByTime(1000);
    coalescer.refreshed("shop", 500);
    running = false;
    coalescer.runEnded("shop");
    expect(flushed).toEqual([]);
    expect(covered).toEqual([["urn:a"]]);
    // A window still open when the refresh is done: dropped at once when all of it came before.
    coalescer.add("shop", ["urn:b"], 0, 450);
    coalescer.refreshed("shop", 500);
    expect(covered).toEqual([["urn:a"], ["urn:b"]]);
    expect(vi.getTimerCount()).toBe(0);
    // Seen after the refresh began: the refresh may have read the object before the change.
    coalescer.add("shop", ["urn:c"], 0, 400);
    coalescer.add("shop", ["urn:d"], 0, 600);
    coalescer.refreshed("shop", 500);
    vi.advanceTimersByTime(1000);
    expect(flushed).toEqual([["urn:c", "urn:d"]]);
  });
});
