import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { PlanDivergedError } from "../errors.js";
import { asRefreshEvent, StepCollector } from "./events.js";
import { PlanWatch } from "./planWatch.js";
import type { PlannedStep } from "./types.js";

const URN = "urn:pulumi:dev::site::test:index:File::";
const pre = (op: string, name: string, type = "test:index:File"): EngineEvent =>
  ({
    sequence: 1,
    timestamp: 0,
    resourcePreEvent: { metadata: { op, urn: `${URN}${name}`, type, provider: "" } },
  }) as unknown as EngineEvent;
const step = (op: PlannedStep["op"], name: string): PlannedStep => ({
  op,
  urn: `${URN}${name}`,
  type: "test:index:File",
});

describe("holding an up to its preview's steps", () => {
  it("lets the steps the preview showed, and steps that change nothing, through", () => {
    const watch = new PlanWatch([step("update", "a"), step("replace", "b"), step("create", "c")]);
    for (const event of [
      pre("same", "z"),
      pre("refresh", "z"),
      pre("read", "z"),
      pre("update", "a"),
      pre("create-replacement", "b"),
      pre("replace", "b"),
      pre("delete-replaced", "b"),
      pre("create", "c"),
      pre("update", "default", "pulumi:providers:test"),
    ])
      watch.onEvent(event);
    expect(watch.signal.aborted).toBe(false);
    expect(watch.diverged(new Error("x"))).toBeUndefined();
  });

  it("stops at the first step the preview did not show, and says which", () => {
    const watch = new PlanWatch([step("update", "a")]);
    watch.onEvent(pre("replace", "a"));
    watch.onEvent(pre("delete", "b"));
    expect(watch.signal.aborted).toBe(true);
    const error = watch.diverged(new Error("cancelled"));
    expect(error).toBeInstanceOf(PlanDivergedError);
    expect(error?.message).toBe(
      `the update was about to replace ${URN}a, where the preview showed an update; it was stopped`,
    );
  });

  it("watches nothing without steps to expect", () => {
    const watch = new PlanWatch(undefined);
    watch.onEvent(pre("delete", "a"));
    expect(watch.signal.aborted).toBe(false);
  });
});

describe("pulumi refresh's events", () => {
  it("read as a refreshing preview's: a changed resource is drift, an unchanged one is not", () => {
    const collector = new StepCollector();
    const out = (op: string, name: string, old: string, now: string): EngineEvent =>
      ({
        sequence: 1,
        timestamp: 0,
        resOutputsEvent: {
          metadata: {
            op,
            urn: `${URN}${name}`,
            type: "test:index:File",
            provider: "",
            old: { outputs: { content: old } },
            new: { outputs: { content: now } },
          },
        },
      }) as unknown as EngineEvent;
    collector.onEvent(asRefreshEvent(out("update", "a", "v1", "edited")));
    collector.onEvent(asRefreshEvent(out("same", "b", "v1", "v1")));
    expect(collector.drift).toEqual([{ urn: `${URN}a`, type: "test:index:File", paths: ["content"] }]);
    expect(collector.steps).toEqual([]);
  });
});
