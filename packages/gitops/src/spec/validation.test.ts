// Bad input reports every problem in one pass, wherever it comes from, and a
// refused `Reconciler.create` leaves nothing behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../cli/config.js";
import { SpecError } from "../errors.js";
import { Reconciler } from "../reconciler.js";
import { FakeEngine, FakeSource } from "../reconciler.test-support.js";
import { resolveTarget } from "./spec.js";

const target = (extra: Record<string, unknown>) => ({
  name: "site",
  repo: "https://example.com/infra.git",
  stack: "dev",
  passphrase: "p",
  ...extra,
});

describe("validation gathers every problem at once", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driftless-validation-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reports every target's problems from Reconciler.create, and leaves no files behind", async () => {
    const dataDir = join(dir, "data");
    const attempt = Reconciler.create({
      dataDir,
      engine: new FakeEngine(),
      source: new FakeSource(),
      targets: [
        target({ name: "web", interval: "1s" }),
        target({ name: "db" }),
        target({ name: "db", stack: "prod" }),
        target({ name: "app", dependsOn: ["web", "nothere"] }),
      ],
    });
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpecError);
    const message = (error as Error).message;
    expect(message).toMatch(/target "web": `interval` must be at least 10s.*got "1s"/);
    expect(message).toMatch(/target "db": `name` is used by more than one target/);
    expect(message).toMatch(/target "app": `dependsOn\[1\]` names an unknown target .*got "nothere"/);
    // `web` is a target, although its spec is wrong: naming it is no second problem.
    expect(message).not.toMatch(/got "web"/);
    expect((error as SpecError).issues).toHaveLength(3);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("removes the status database and lock file it made when the store cannot be opened", async () => {
    const dataDir = join(dir, "kept");
    mkdirSync(dataDir);
    const attempt = Reconciler.create({
      dataDir,
      engine: new FakeEngine(),
      source: new FakeSource(),
      store: "mysql://nowhere/db",
      targets: [target({})],
    });
    await expect(attempt).rejects.toThrow(/`store`/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("reports an unknown dependsOn with the config file's other mistakes", () => {
    const yaml = `
dataDir: ./data
targets:
  - name: site
    repo: https://example.com/infra.git
    stack: dev
    interval: 1s
  - name: app
    repo: https://example.com/infra.git
    stack: dev
    dependsOn: [site, nothere]
`;
    const error = (() => {
      try {
        parseConfig(yaml, "/etc/driftless/driftless.yaml");
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/targets\[0\]\.interval must be at least 10s/);
    expect(message).toMatch(/targets\[1\]\.dependsOn\[1\] names an unknown target .*got "nothere"/);
    expect(message).not.toMatch(/got "site"/);
  });

  it("suggests the field an unknown one was probably meant to be", () => {
    expect(() => resolveTarget(target({ intervall: "5m" }), { dataDir: dir })).toThrow(
      /unknown field\(s\) intervall \(did you mean `interval`\?\)/,
    );
    expect(() => resolveTarget(target({ gates: { maxDestructiveShar: 0.5 } }), { dataDir: dir })).toThrow(
      /`gates` has unknown field\(s\) maxDestructiveShar \(did you mean `maxDestructiveShare`\?\)/,
    );
    // Nothing close: no guess.
    expect(() => resolveTarget(target({ colour: "blue" }), { dataDir: dir })).toThrow(
      /unknown field\(s\) colour(?! \()/,
    );
    expect(() =>
      parseConfig(`dataDir: ./d\nlisen: ":8080"\ntargets: []\n`, "/etc/driftless/driftless.yaml"),
    ).toThrow(/lisen \(did you mean `listen`\?\)/);
  });
});
