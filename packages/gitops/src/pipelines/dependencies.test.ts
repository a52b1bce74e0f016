import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { StackRequest } from "../engine/types.js";
import { SpecError } from "../errors.js";
import {
  type FakeEngine,
  type FakeSource,
  planOf,
  REV_B,
  until,
  useReconciler,
} from "../reconciler.test-support.js";

describe("Reconciler dependencies", () => {
  let engine: FakeEngine;
  let source: FakeSource;
  const { spec, create, eventsNamed } = useReconciler((h) => {
    ({ engine, source } = h);
  });

  describe("dependencies", () => {
    const chain = () => [
      spec({ name: "app", dependsOn: ["database"] }),
      spec({ name: "database", dependsOn: ["network"] }),
      spec({ name: "network" }),
    ];
    const targetOf = (call: { request: StackRequest }) => call.request.workDir.split("/").at(-1) as string;

    /** Every run has something to apply; `up` reports outputs named after the target and revision. */
    const applyingEngine = (outputs?: (target: string) => Record<string, unknown>) => {
      engine.plan = planOf(1, ["create", "x:y:Z"]);
      const up = engine.up.bind(engine);
      engine.up = async (request, options) => {
        const applied = await up(request, options);
        const target = request.workDir.split("/").at(-1) as string;
        return {
          ...applied,
          outputs: outputs?.(target) ?? { id: `${target}-${source.revision.slice(0, 1)}`, meta: { n: 1 } },
        };
      };
    };

    it("accepts a dependency listed after its dependent", async () => {
      const r = await create({ targets: chain() });
      expect(r.target("app")?.dependsOn).toEqual(["database"]);
    });

    it("refuses an unknown dependency, naming it", async () => {
      await expect(
        create({ targets: [spec({ name: "app", dependsOn: ["netwrk"] }), spec({ name: "network" })] }),
      ).rejects.toThrowError(/target "app": `dependsOn\[0\]` names an unknown target .*got "netwrk"/);
      const r = await create();
      expect(() => r.addTarget(spec({ name: "app", dependsOn: ["site", "nope"] }))).toThrowError(SpecError);
      expect(r.target("app")).toBeUndefined();
    });

    it("refuses a cycle, naming it", async () => {
      const cyclic = [...chain().slice(0, 2), spec({ name: "network", dependsOn: ["app"] })];
      const error = await create({ targets: cyclic }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecError);
      expect((error as Error).message).toMatch(/dependsOn cycle: app → network → database → app/);
      const r = await create({ targets: chain() });
      expect(() => r.addTarget(spec({ name: "network", dependsOn: ["app"] }))).toThrowError(
        /dependsOn cycle: /,
      );
      expect(r.target("network")?.dependsOn).toEqual([]);
      expect(() => r.addTarget(spec({ name: "site", dependsOn: ["site"] }))).toThrowError(
        /dependsOn cycle: site → site/,
      );
    });

    it("runs dependents in order after a dependency's outputs change, passing them as config", async () => {
      const r = await create({ targets: chain() });
      applyingEngine();
      expect((await r.reconcile("network")).result).toBe("applied");
      await r.whenIdle();
      const ups = engine.calls.filter((c) => c.op === "up");
      expect(ups.map(targetOf)).toEqual(["network", "database", "app"]);
      expect(ups[1]?.request.config).toMatchObject({
        "deps.network.id": "network-a",
        "deps.network.meta": '{"n":1}',
      });
      expect(ups[2]?.request.config).toMatchObject({ "deps.database.id": "database-a" });
      expect(ups[2]?.request.config).not.toHaveProperty("deps.network.id");
      expect((await r.history("database"))[0]).toMatchObject({ trigger: "dependency", result: "applied" });
      expect((await r.history("app"))[0]).toMatchObject({ trigger: "dependency", result: "applied" });
    });

    it("queues a dependent added after its dependency already ran", async () => {
      const r = await create({ targets: [spec({ name: "network" })] });
      applyingEngine();
      await r.reconcile("network");
      await r.whenIdle();
      // The dependents of each target are indexed once; a target added later must be in the index.
      r.addTarget(spec({ name: "database", dependsOn: ["network"] }));
      source.revision = REV_B;
      expect((await r.reconcile("network")).result).toBe("applied");
      // A run is in the history from its start: wait for its end.
      await until(async () => (await r.history("database"))[0]?.finishedAt !== undefined, "database's run");
      expect((await r.history("database"))[0]).toMatchObject({ trigger: "dependency", result: "applied" });
    });

    it("does not queue dependents when a dependency's outputs are unchanged", async () => {
      const r = await create({ targets: chain().slice(1) });
      applyingEngine(() => ({ id: "same" }));
      await r.reconcile("network");
      await until(async () => (await r.history("database")).length === 1, "database's run");
      await until(() => r.queueDepth === 0 && engine.count("up") === 2, "the cascade");
      source.revision = REV_B;
      expect((await r.reconcile("network")).result).toBe("applied");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await r.history("database")).toHaveLength(1);
    });

    it("defers a run while a dependency is not ready, and runs it once the dependency is", async () => {
      const r = await create({ targets: chain().slice(1) });
      const deferred = await r.reconcile("database");
      expect(deferred.result).toBe("skipped");
      expect(deferred.log).toMatch(/deferred: dependency "network" is not ready/);
      expect(engine.calls).toHaveLength(0);
      expect(await r.history("database")).toHaveLength(0);
      expect((await r.status("database")).conditions.find((c) => c.type === "Ready")).toMatchObject({
        status: false,
        reason: "DependencyNotReady",
      });

      // The dependency applies without new outputs (nothing to apply): the
      // parked run is queued again with its own trigger.
      await r.reconcile("network");
      await until(async () => (await r.history("database")).length === 1, "database's run");
      await until(async () => !!(await r.history("database"))[0]?.finishedAt, "database's run to finish");
      expect((await r.history("database"))[0]).toMatchObject({ trigger: "manual", result: "unchanged" });
      expect((await r.status("database")).conditions.find((c) => c.type === "Ready")?.status).toBe(true);
      expect(eventsNamed("recovered").map((e) => e.target)).not.toContain("database");
    });

    it("defers a dependent while its dependency has a run in progress", async () => {
      const r = await create({ targets: chain().slice(1) });
      applyingEngine(() => ({ id: "same" }));
      await r.reconcile("network");
      await until(async () => !!(await r.history("database"))[0]?.finishedAt, "the first cascade");
      engine.hold = true;
      source.revision = REV_B;
      const network = await r.request("network");
      await until(() => engine.held.length === 1, "network's preview");
      expect((await r.reconcile("database", { trigger: "webhook" })).log).toMatch(
        /dependency "network" has a run in progress/,
      );
      engine.hold = false;
      engine.release();
      await network.done;
      await until(async () => (await r.history("database")).length === 2, "database's second run");
      expect((await r.history("database"))[0]?.trigger).toBe("webhook");
    });

    it("waits for a dependency behind its revision once, without checking again in a loop", async () => {
      const r = await create({ targets: chain().map((t) => ({ ...t, path: t.name })) });
      applyingEngine();
      await r.reconcile("network");
      await r.whenIdle();
      source.revision = REV_B;
      // Only network's files changed between what it applied and REV_B.
      source.changedFiles = async () => ["network/index.ts"];
      Object.assign(source, { isAncestor: async () => false });
      const resolves = source.resolves;
      engine.hold = true;
      const waited = await (await r.request("app", { trigger: "interval", force: false })).done;
      expect(waited.log).toMatch(
        /dependency "network" applied a{12}, which is behind b{12} \(its files changed\)/,
      );
      // While network's engine work is held, the waiting targets are not checked again.
      await until(() => engine.held.length > 0, "network's preview");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(source.resolves - resolves).toBeLessThanOrEqual(3);
      engine.hold = false;
      while (engine.held.length > 0) engine.release();
      await r.whenIdle();
      const ups = engine.calls.filter((c) => c.op === "up").map(targetOf);
      expect(ups.slice(3)).toEqual(["network", "database", "app"]);
      expect((await r.history("network"))[0]).toMatchObject({ trigger: "dependency", revision: REV_B });
      // app's check, then network, database and app: no busy loop while they ran.
      expect(source.resolves - resolves).toBeLessThanOrEqual(5);
    });

    it("refuses to remove a target others depend on, and removes them together dependents first", async () => {
      const r = await create({ targets: chain().map((t) => ({ ...t, destroyOnRemove: true })) });
      await expect(r.removeTarget("network")).rejects.toThrowError(
        /cannot remove target "network": "database" depends on it; remove it first or together/,
      );
      await expect(r.removeTargets(["network", "database"])).rejects.toThrowError(/"app" depends on it/);
      expect(engine.count("destroy")).toBe(0);
      const destroyed = await r.removeTargets(["network", "app", "database"]);
      expect(destroyed.map((d) => d.target)).toEqual(["app", "database", "network"]);
      expect(engine.calls.map(targetOf)).toEqual(["app", "database", "network"]);
      expect(r.targets()).toEqual([]);
    });
  });

  describe("monorepo discovery", () => {
    it("adds one target per project directory of a discover entry, dependencies included", async () => {
      const checkout = source.checkout.bind(source);
      source.checkout = async (ref, revision, dir, previous) => {
        await checkout(ref, revision, dir, previous);
        for (const stack of ["database", "app"]) {
          mkdirSync(join(dir, "stacks", stack), { recursive: true });
          writeFileSync(join(dir, "stacks", stack, "Pulumi.yaml"), "name: x\n");
        }
      };
      const r = await create({
        targets: [spec({ name: "network" })],
        discover: [{ ...spec({ name: "stacks", dependsOn: ["network"] }), paths: "stacks/*" }],
      });
      expect(r.targets().map((t) => [t.name, t.path, t.dependsOn])).toEqual([
        ["network", ".", []],
        ["stacks-app", "stacks/app", ["network"]],
        ["stacks-database", "stacks/database", ["network"]],
      ]);
      expect(engine.calls).toEqual([]);
    });
  });
});
