// An embedded reconciler with an inline program (no Pulumi project in the
// repository), and a target removed with destroyOnRemove: the real engine
// destroys its stack; without the flag, removal leaves the resources alone.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Reconciler, type TargetSpec } from "@driftless/gitops";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as LocalFileModule from "./fixtures/localFile.cjs";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";

const { LocalFile } = createRequire(import.meta.url)("./fixtures/localFile.cjs") as typeof LocalFileModule;

describe("an inline program, removed with destroyOnRemove", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;

  // The repository provides the revision; the program lives in this process.
  const target = (name: string, destroyOnRemove: boolean): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    stack: name,
    passphrase: "test-passphrase",
    env: sandbox.env,
    destroyOnRemove,
    program: async () => {
      const file = new LocalFile(name, {
        path: join(sandbox.dir, "out", `${name}.txt`),
        content: new pulumi.Config().get("greeting") ?? "hello from an inline program",
      });
      return { path: file.path };
    },
  });

  beforeAll(async () => {
    sandbox = engineSandbox();
    repo = createRepo(join(sandbox.dir, "repo"));
    repo.commit({ "README.md": "infrastructure for an embedded service\n" }, "init");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      targets: [target("kept", false), target("dropped", true)],
    });
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("applies an inline program at the repository's revision", async () => {
    for (const name of ["kept", "dropped"]) {
      const run = await reconciler.reconcile(name);
      expect(run.error).toBeUndefined();
      expect(run.result).toBe("applied");
      expect(run.revision).toBe(repo.head());
      expect(readFileSync(join(sandbox.dir, "out", `${name}.txt`), "utf8")).toBe(
        "hello from an inline program",
      );
    }
  });

  it("destroys the stack of a target removed with destroyOnRemove, and only that one", async () => {
    const destroyed = await reconciler.removeTarget("dropped");
    expect(destroyed?.result).toBe("destroyed");
    expect(existsSync(join(sandbox.dir, "out", "dropped.txt"))).toBe(false);
    expect(reconciler.targets().map((t) => t.name)).toEqual(["kept"]);

    expect(await reconciler.removeTarget("kept")).toBeUndefined();
    expect(existsSync(join(sandbox.dir, "out", "kept.txt"))).toBe(true);
  });
});
