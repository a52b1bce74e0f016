import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { EngineProgressRenderer, StepCollector } from "./events.js";

describe("engine progress in the run log", () => {
  const urn = "urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::old.html";
  const type = "pulumi-nodejs:dynamic:Resource";

  it("says a preview's steps are planned, never done", () => {
    const lines = new EngineProgressRenderer();
    expect(lines.render({ kind: "resource", op: "delete", urn, type, done: false, preview: true })).toBe(
      `plan delete ${urn}`,
    );
    expect(
      lines.render({ kind: "resource", op: "delete", urn, type, done: true, preview: true }),
    ).toBeUndefined();
    expect(lines.render({ kind: "resource", op: "delete", urn, type, done: true })).toBe(
      `done delete ${urn}`,
    );
    expect(lines.render({ kind: "resource", op: "same", urn, type, done: true })).toBeUndefined();
    expect(lines.render({ kind: "resource", op: "refresh", urn, type, done: true, preview: true })).toBe(
      `refreshed ${urn}`,
    );
  });

  it("says a repeated warning once and leaves the RPC trace out", () => {
    const lines = new EngineProgressRenderer();
    const path = {
      kind: "diagnostic",
      severity: "warning",
      message: "using pulumi-language-nodejs from $PATH\n",
    } as const;
    expect(lines.render(path)).toBe("warning: using pulumi-language-nodejs from $PATH");
    expect(lines.render(path)).toBeUndefined();
    expect(lines.render({ kind: "diagnostic", severity: "info", message: "hello" })).toBe("info: hello");
    expect(lines.render({ kind: "diagnostic", severity: "info", message: "hello" })).toBe("info: hello");
    expect(
      lines.render({
        kind: "diagnostic",
        severity: "debug",
        message: "RegisterResource RPC finished: __provider",
      }),
    ).toBeUndefined();
  });
});

const SECRET_URN = "urn:pulumi:dev::app::kubernetes:core/v1:Secret::ledger-db";
const SECRET_TYPE = "kubernetes:core/v1:Secret";
/** A secret as the engine's events show it: its marker around the blinded `[secret]`. */
const MASKED = {
  "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  ciphertext: "[secret]",
};
/** A Secret's state as a step shows it: declared with `stringData`, read back as `data`. */
const secretState = (name: unknown, namespace = "ledger") => ({
  type: SECRET_TYPE,
  urn: SECRET_URN,
  inputs: { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: MASKED },
  outputs: { apiVersion: "v1", kind: "Secret", metadata: { name, namespace, uid: "u1" }, data: MASKED },
});
/** The engine's announcement of a step on the Secret, changing `data.password`. */
const secretStep = (op: string, name: unknown = "ledger-db", replace = true) =>
  ({
    sequence: 1,
    timestamp: 1,
    resourcePreEvent: {
      metadata: {
        op,
        urn: SECRET_URN,
        type: SECRET_TYPE,
        provider: "",
        old: secretState("ledger-db"),
        new: secretState(name),
        ...(replace ? { keys: ["data.password"] } : {}),
        detailedDiff: {
          "data.password": { diffKind: replace ? "update-replace" : "update", inputDiff: false },
        },
      },
    },
  }) as unknown as EngineEvent;

describe("secrets in drift and in diffs", () => {
  it("keeps the paths of masked secrets of a resource refresh found changed, never their values", () => {
    const collector = new StepCollector();
    const live = (version: string) => ({
      type: SECRET_TYPE,
      urn: SECRET_URN,
      inputs: {},
      outputs: { metadata: { name: "ledger-db", resourceVersion: version }, data: MASKED },
    });
    collector.onEvent({
      sequence: 1,
      timestamp: 1,
      resOutputsEvent: {
        metadata: {
          op: "refresh",
          urn: SECRET_URN,
          type: SECRET_TYPE,
          provider: "",
          old: live("1"),
          new: live("2"),
        },
      },
    } as unknown as EngineEvent);
    expect(collector.drift).toEqual([
      { urn: SECRET_URN, type: SECRET_TYPE, paths: ["metadata.resourceVersion"], secretPaths: ["data"] },
    ]);
    // The live object it read, for the inventory's health (never stored).
    expect(collector.live.get(SECRET_URN)).toEqual(live("2").outputs);
  });

  it("marks a resource refresh found deleted as gone, with no live object", () => {
    const collector = new StepCollector();
    const old = {
      type: SECRET_TYPE,
      urn: SECRET_URN,
      inputs: {},
      outputs: { metadata: { name: "ledger-db" } },
    };
    collector.onEvent({
      sequence: 1,
      timestamp: 1,
      resOutputsEvent: {
        metadata: { op: "refresh", urn: SECRET_URN, type: SECRET_TYPE, provider: "", old },
      },
    } as unknown as EngineEvent);
    expect(collector.drift).toEqual([{ urn: SECRET_URN, type: SECRET_TYPE, gone: true }]);
    expect(collector.live.get(SECRET_URN)).toBeNull();
  });

  it("shows a secret path the inputs do not hold as `[secret]` on both sides", () => {
    const collector = new StepCollector(undefined, true);
    collector.onEvent(secretStep("update", "ledger-db", false));
    // The Secret declares `stringData`; the path is read from the live `data`, masked.
    expect(collector.steps[0]?.diffs).toEqual([
      { path: "data.password", kind: "update", replace: false, old: "[secret]", new: "[secret]" },
    ]);
  });
});

describe("replacements in the engine's steps", () => {
  it("says which half the engine does first, and the identities of the old and new objects", () => {
    const createFirst = new StepCollector(undefined, true);
    for (const op of ["create-replacement", "replace", "delete-replaced"])
      createFirst.onEvent(secretStep(op));
    expect(createFirst.counts.replace).toBe(1);
    expect(createFirst.steps).toEqual([
      expect.objectContaining({
        op: "replace",
        replaceOrder: "create-before-delete",
        objects: {
          old: { apiVersion: "v1", kind: "Secret", namespace: "ledger", name: "ledger-db" },
          new: { apiVersion: "v1", kind: "Secret", namespace: "ledger", name: "ledger-db" },
        },
        diffs: [{ path: "data.password", kind: "update", replace: true, old: "[secret]", new: "[secret]" }],
      }),
    ]);
    const deleteFirst = new StepCollector(undefined, true);
    for (const op of ["delete-replaced", "replace", "create-replacement"])
      deleteFirst.onEvent(secretStep(op));
    expect(deleteFirst.steps[0]?.replaceOrder).toBe("delete-before-replace");
  });

  it("leaves out a name that is unknown or secret", () => {
    const collector = new StepCollector(undefined, true);
    collector.onEvent(secretStep("create-replacement", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"));
    collector.onEvent(secretStep("replace", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"));
    expect(collector.steps[0]?.objects?.new).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      namespace: "ledger",
    });
  });
});

describe("a refresh preview (`pulumi refresh --preview-only`) as a drift check", () => {
  const URN = "urn:pulumi:dev::app::kubernetes:core/v1:ConfigMap::settings";
  const TYPE = "kubernetes:core/v1:ConfigMap";
  const state = (index: string, labels?: Record<string, string>) => ({
    type: TYPE,
    urn: URN,
    inputs: { metadata: { name: "settings" }, data: { index } },
    outputs: { metadata: { name: "settings", ...(labels ? { labels } : {}) }, data: { index } },
  });
  /** The refresh command's step as its events say it: `update` with the refresh diff, `same`, or `delete`. */
  const refreshed = (op: string, old: object, next?: object, detailedDiff?: object) =>
    ({
      sequence: 1,
      timestamp: 1,
      resOutputsEvent: {
        metadata: {
          op,
          urn: URN,
          type: TYPE,
          provider: "",
          old,
          ...(next ? { new: next } : {}),
          detailedDiff,
        },
      },
    }) as unknown as EngineEvent;

  it("plans putting back what the engine's refresh diff found, from the live value to the applied one", () => {
    const progress: string[] = [];
    const collector = StepCollector.refreshPreview((e) => {
      if (e.kind === "resource") progress.push(`${e.op} ${e.done} ${e.preview}`);
    });
    collector.onEvent(
      refreshed("update", state("1"), state("edited"), {
        "data.index": { diffKind: "update-replace", inputDiff: false },
      }),
    );
    expect(collector.drift).toEqual([{ urn: URN, type: TYPE, paths: ["data.index"] }]);
    expect(collector.steps).toEqual([
      {
        op: "replace",
        urn: URN,
        type: TYPE,
        diffs: [{ path: "data.index", kind: "update", replace: true, old: "edited", new: "1" }],
      },
    ]);
    expect(collector.counts).toMatchObject({ replace: 1, update: 0 });
    // Read in the run's log as any refresh is: the step refreshed, planned not done.
    expect(progress).toEqual(["refresh true true"]);
  });

  it("turns what live added or removed around, and plans creating a resource found gone", () => {
    const collector = StepCollector.refreshPreview();
    collector.onEvent(
      refreshed(
        "update",
        state("1"),
        { ...state("1"), inputs: { metadata: { name: "settings" } } },
        {
          data: { diffKind: "delete", inputDiff: true },
        },
      ),
    );
    expect(collector.steps[0]).toMatchObject({ op: "update", diffs: [{ path: "data", kind: "add" }] });
    const gone = StepCollector.refreshPreview();
    gone.onEvent(refreshed("delete", state("1")));
    expect(gone.steps).toEqual([{ op: "create", urn: URN, type: TYPE }]);
    expect(gone.drift).toEqual([{ urn: URN, type: TYPE, gone: true }]);
    expect(gone.live.get(URN)).toBeNull();
  });

  it("finds no drift where only what the program does not set moved (a label another tool added)", () => {
    const collector = StepCollector.refreshPreview();
    // The provider's diff of the inputs saw nothing: the command calls the step `same`.
    collector.onEvent(refreshed("same", state("1"), state("1", { team: "x" }), {}));
    expect(collector.drift).toEqual([]);
    expect(collector.steps).toEqual([]);
    expect(collector.counts.same).toBe(1);
  });
});
