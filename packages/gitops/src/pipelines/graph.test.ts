import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { resolveTarget } from "../spec/spec.js";
import { dependentsFirst, dependentsOf, validateGraph } from "./graph.js";

const graph = new Map<string, readonly string[]>([
  ["app", ["database", "network"]],
  ["database", ["network"]],
  ["network", []],
  ["dns", []],
]);

describe("dependency graph", () => {
  it("accepts an acyclic graph of known targets", () => {
    expect(() => validateGraph(graph)).not.toThrow();
  });

  it("names every unknown dependency with its index", () => {
    const error = (() => {
      try {
        validateGraph(
          new Map([
            ["app", ["network", "db", "cache"]],
            ["network", []],
          ]),
        );
      } catch (e) {
        return e as SpecError;
      }
    })();
    expect(error).toBeInstanceOf(SpecError);
    expect(error?.issues.map((i) => i.path)).toEqual(["dependsOn[1]", "dependsOn[2]"]);
    expect(error?.message).toMatch(/got "db".*got "cache"/);
  });

  it("names a cycle in data-flow order", () => {
    const cyclic = new Map(graph);
    cyclic.set("network", ["app"]);
    expect(() => validateGraph(cyclic)).toThrowError(/dependsOn cycle: app → network → database → app/);
  });

  it("orders targets dependents first and lists direct dependents", () => {
    expect(dependentsFirst(graph, ["network", "app", "database"])).toEqual(["app", "database", "network"]);
    expect(dependentsFirst(graph, ["network", "dns"])).toEqual(["network", "dns"]);
    expect(dependentsOf(graph, "network")).toEqual(["app", "database"]);
  });

  it("validates dependsOn entries in the target spec", () => {
    const base = { name: "app", repo: "https://example.com/x.git", stack: "dev" };
    expect(resolveTarget(base, { dataDir: "/d" }).dependsOn).toEqual([]);
    expect(() => resolveTarget({ ...base, dependsOn: ["a", "a"] }, { dataDir: "/d" })).toThrowError(
      /`dependsOn` must not name a target twice/,
    );
    expect(() => resolveTarget({ ...base, dependsOn: ["Bad_Name"] }, { dataDir: "/d" })).toThrowError(
      /`dependsOn\[0\]` must be a target name, got "Bad_Name"/,
    );
  });
});
