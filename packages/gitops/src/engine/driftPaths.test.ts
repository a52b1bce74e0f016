import { describe, expect, it } from "vitest";
import { changedPaths, maskedSecretPaths, segments, touchesPaths } from "./driftPaths.js";

describe("changedPaths", () => {
  it("names the leaves that differ, in the engine's path style", () => {
    const before = {
      spec: { replicas: 2, ports: [80, 443] },
      metadata: { labels: { "a.b/c": "x", app: "web" } },
    };
    const after = {
      spec: { replicas: 5, ports: [80, 8443] },
      metadata: { labels: { "a.b/c": "y", app: "web" } },
      status: { ready: 5 },
    };
    expect(changedPaths(before, after)?.sort()).toEqual(
      ['metadata.labels["a.b/c"]', "spec.ports[1]", "spec.replicas", "status"].sort(),
    );
    expect(changedPaths(before, structuredClone(before))).toEqual([]);
  });

  it("compares secrets as wholes and gives up past a bound", () => {
    const secret = (v: string) => ({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: v,
    });
    expect(changedPaths({ token: secret("a") }, { token: secret("b") })).toEqual(["token"]);
    const many = (v: number) => Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, v]));
    expect(changedPaths(many(1), many(2))).toBeUndefined();
  });
});

describe("touchesPaths", () => {
  it("matches a path, its ancestors and its descendants, not its siblings", () => {
    expect(touchesPaths(["spec.replicas"], ["spec.replicas"])).toBe(true);
    expect(touchesPaths(["spec"], ["spec.replicas"])).toBe(true);
    expect(touchesPaths(["spec.template.spec.containers[0].image"], ["spec.template"])).toBe(true);
    expect(touchesPaths(["spec.replicas"], ["spec.replicasExtra", "status.replicas"])).toBe(false);
    expect(touchesPaths(['metadata.labels["driftless.io/commit"]'], ["metadata.labels.app"])).toBe(false);
  });

  it("reads quoted and indexed segments", () => {
    expect(segments('a.b[0]["c.d"].e')).toEqual(["a", "b", "0", "c.d", "e"]);
  });
});

describe("maskedSecretPaths", () => {
  const masked = {
    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
    ciphertext: "[secret]",
  };
  it("names the paths that hold a masked secret on both sides, whose change cannot be seen", () => {
    const before = {
      data: masked,
      metadata: { resourceVersion: "1" },
      spec: { token: "[secret]", plain: 1 },
    };
    const after = { data: masked, metadata: { resourceVersion: "2" }, spec: { token: "[secret]", plain: 1 } };
    expect(changedPaths(before, after)).toEqual(["metadata.resourceVersion"]);
    expect(maskedSecretPaths(before, after)?.sort()).toEqual(["data", "spec.token"]);
    expect(maskedSecretPaths({ data: { a: "x" } }, { data: { a: "y" } })).toEqual([]);
  });
});
