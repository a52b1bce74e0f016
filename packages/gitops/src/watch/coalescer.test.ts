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
});
