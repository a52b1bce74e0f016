// The folders of @driftless/gitops and the directions imports may take
// between them (the map is in packages/gitops/README.md). Biome's
// `noImportCycles` keeps the graph acyclic; this keeps it layered: the
// surfaces (http/, cli/, notify/) sit on top of the core, a run reaches the
// stores only through the `Store` interfaces, and the tree stays small enough
// to read.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../packages/gitops/src/", import.meta.url));
const SURFACES = ["http", "cli", "notify"];

/** Source files under `dir`, relative to SRC with `/` separators; tests and test support left out. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !/\.test(-support|-d)?\.ts$/.test(e.name))
    .map((e) => relative(SRC, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

/** The files of SRC a file imports (static, type-only, re-exports and dynamic `import()`), relative to SRC. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) =>
      relative(SRC, resolve(dirname(join(SRC, file)), spec))
        .split(sep)
        .join("/"),
    )
    .map((path) => path.replace(/\.js$/, ".ts"));
}

const top = (path: string) => (path.includes("/") ? path.slice(0, path.indexOf("/")) : "");

/** Every import from a file in a folder `from` matches to a file in a folder `to` matches. */
function edges(from: (file: string) => boolean, to: (target: string) => boolean): string[] {
  return sources(SRC)
    .filter(from)
    .flatMap((file) =>
      importsOf(file)
        .filter(to)
        .map((target) => `${file} -> ${target}`),
    );
}

describe("@driftless/gitops folders", () => {
  it("finds the imports it checks (type-only, multi-line and re-exports included)", () => {
    expect(importsOf("index.ts")).toContain("reconciler.ts");
    expect(sources(SRC).length).toBeGreaterThan(60);
    expect(
      edges(
        (f) => f === "index.ts",
        (t) => top(t) === "http",
      ).length,
    ).toBeGreaterThan(0);
  });

  it("imports the surfaces (http/, cli/, notify/) only from the surfaces and the package entry", () => {
    const inward = edges(
      (file) => file !== "index.ts" && !SURFACES.includes(top(file)),
      (target) => SURFACES.includes(top(target)),
    );
    expect(inward).toEqual([]);
  });

  it("imports downwards: each folder only from the folders below it (the table in the README)", () => {
    const VOCABULARY = ["types.ts", "errors.ts", "events.ts", "util.ts", "engine/types.ts"];
    const PARTS = ["schedule", "run", "pipelines", "replicas", "watch"];
    // Folder -> the folders it may import besides itself and the vocabulary.
    const below: Record<string, string[]> = {
      spec: [],
      engine: [],
      git: ["spec", "engine"],
      store: ["spec", "engine"],
      // The reconciler's parts call each other (a run queues its follow-ups,
      // the queue starts runs) and read the resolved options.
      ...Object.fromEntries(
        PARTS.map((part) => [part, ["options.ts", "spec", "engine", "git", "store", ...PARTS]]),
      ),
    };
    const upward = sources(SRC).flatMap((file) => {
      const folder = VOCABULARY.includes(file) ? "vocabulary" : top(file);
      const allowed = folder === "vocabulary" ? [] : below[folder];
      if (allowed === undefined) return []; // the facade and the surfaces import anything below them
      return importsOf(file)
        .filter((target) => !VOCABULARY.includes(target) && top(target) !== folder)
        .filter((target) => !allowed.includes(top(target)) && !allowed.includes(target))
        .map((target) => `${file} -> ${target}`);
    });
    expect(upward).toEqual([]);
  });

  it("keeps run/ off the store backends: a run uses the Store interfaces", () => {
    const direct = edges(
      (file) => top(file) === "run",
      (target) => target.startsWith("store/postgres/") || target.startsWith("store/sqlite/"),
    );
    expect(direct).toEqual([]);
  });

  it("keeps at most 8 source files at the top and at most 15 in any folder", () => {
    const byFolder = new Map<string, number>();
    for (const file of sources(SRC)) {
      const folder = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
      byFolder.set(folder, (byFolder.get(folder) ?? 0) + 1);
    }
    expect(byFolder.get(".")).toBeLessThanOrEqual(8);
    const crowded = [...byFolder].filter(([folder, count]) => folder !== "." && count > 15);
    expect(crowded).toEqual([]);
  });
});
