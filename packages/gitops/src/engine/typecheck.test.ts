import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compilerHint, typeCheckFor } from "./typecheck.js";

describe("type checks in previews", () => {
  const dirs: string[] = [];
  const project = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "driftless-typecheck-"));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("checks a TypeScript entry point with the program's tsconfig", () => {
    const dir = project({
      "Pulumi.yaml": "name: p\nruntime: nodejs\n",
      "index.ts": "",
      "tsconfig.json": "{}",
    });
    expect(typeCheckFor(dir, false)).toEqual({
      checked: true,
      detail: "index.ts type-checked by ts-node with tsconfig.json, as `pulumi preview` does",
    });
  });

  it("follows `main` and the runtime's tsconfig option", () => {
    const dir = project({
      "Pulumi.yaml":
        "name: p\nmain: app.ts\nruntime:\n  name: nodejs\n  options:\n    tsconfig: tsconfig.pulumi.json\n",
    });
    expect(typeCheckFor(dir, false).detail).toBe(
      "app.ts type-checked by ts-node with Pulumi's defaults, as `pulumi preview` does",
    );
  });

  it("says why JavaScript and inline programs are not checked", () => {
    const js = project({ "Pulumi.yaml": "name: p\nruntime: nodejs\n", "index.js": "" });
    expect(typeCheckFor(js, false)).toEqual({ checked: false, detail: "JavaScript program (index.js)" });
    const off = project({
      "Pulumi.yaml": "name: p\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n",
      "index.ts": "",
    });
    expect(typeCheckFor(off, false).detail).toBe("JavaScript program (runtime option `typescript: false`)");
    expect(typeCheckFor(js, true).checked).toBe(false);
  });

  it("explains TS5110 and nothing else", () => {
    expect(compilerHint("error TS5110: Option 'module' must be set to 'NodeNext'")).toContain(
      '"moduleResolution": "node10"',
    );
    expect(compilerHint("error TS2322: Type 'string' is not assignable")).toBeUndefined();
  });
});
