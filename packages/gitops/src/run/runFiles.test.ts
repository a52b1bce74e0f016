// The files a run makes for its engine beside the stack: a temporary
// directory of its own, and the target's Node compile cache; neither outlives
// what it belongs to.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type FakeEngine, useReconciler } from "../reconciler.test-support.js";

describe("the files a run makes for its engine", () => {
  let dir: string;
  let engine: FakeEngine;
  const { spec, create } = useReconciler((h) => {
    ({ dir, engine } = h);
  });

  it("gives each run and destroy a temporary directory of its own, gone when it ends", async () => {
    // Left by a process that stopped mid-run: the next reconciler on the data directory removes it.
    const stale = join(dir, "data", "tmp", "deadbeef-x");
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, "kubeconfig1"), "credentials");
    const r = await create({ targets: [spec({ destroyOnRemove: true })] });
    expect(existsSync(stale)).toBe(false);
    const seen: boolean[] = [];
    const preview = engine.preview.bind(engine);
    engine.preview = async (request, options) => {
      seen.push(existsSync(request.env.TMPDIR as string));
      return preview(request, options);
    };
    await r.reconcile("site");
    await r.removeTarget("site");
    const [run, destroy] = engine.calls.map((c) => c.request.env.TMPDIR as string);
    expect(seen).toEqual([true]);
    expect(run).toMatch(new RegExp(`^${join(dir, "data", "tmp")}/`));
    expect(destroy).toMatch(new RegExp(`^${join(dir, "data", "tmp")}/`));
    expect(destroy).not.toBe(run);
    expect([run, destroy].filter((d) => existsSync(d as string))).toEqual([]);
  });

  it("keeps the target's Node compile cache under the data directory, and removes it with the target", async () => {
    const r = await create({ targets: [spec({ destroyOnRemove: true })] });
    await r.reconcile("site");
    const compileCache = engine.calls[0]?.request.env.NODE_COMPILE_CACHE as string;
    expect(compileCache).toBe(join(dir, "data", "cache", "node-compile", "site"));
    mkdirSync(compileCache, { recursive: true });
    expect((await r.removeTarget("site"))?.result).toBe("destroyed");
    expect(existsSync(compileCache)).toBe(false);
  });
});
