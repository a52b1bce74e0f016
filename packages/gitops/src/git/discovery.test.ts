import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ConfigError, parseConfig } from "../cli/config.js";
import {
  discoverTargets,
  expandTemplate,
  matchProjectDirectories,
  type TargetTemplate,
} from "./discovery.js";
import type { Source, SourceRef } from "./source.js";

const template: TargetTemplate = {
  name: "stacks",
  repo: "https://example.com/infra.git",
  stack: "prod",
  paths: "stacks/*",
  sharedPaths: ["lib/"],
  dependsOn: ["network"],
};

/** Writes a repository layout: each path → file content. */
function layout(root: string, files: string[]): void {
  for (const file of files) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), "name: x\n");
  }
}

const REPO_FILES = [
  "stacks/network/Pulumi.yaml",
  "stacks/App_Server/Pulumi.yml",
  "stacks/docs/README.md",
  "stacks/.hidden/Pulumi.yaml",
  "envs/prod/infra/Pulumi.yaml",
  "envs/dev/infra/Pulumi.yaml",
  "envs/dev/other/Pulumi.yaml",
  "lib/util.js",
];

describe("monorepo discovery", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "driftless-discovery-"));
    layout(join(root, "repo"), REPO_FILES);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("finds directories matching the glob that hold a Pulumi project", () => {
    const repo = join(root, "repo");
    expect(matchProjectDirectories(repo, "stacks/*")).toEqual(["stacks/App_Server", "stacks/network"]);
    expect(matchProjectDirectories(repo, "envs/*/infra")).toEqual(["envs/dev/infra", "envs/prod/infra"]);
    expect(matchProjectDirectories(repo, "nothing/*")).toEqual([]);
  });

  it("names each target after its entry and the directory the wildcards matched", () => {
    const targets = expandTemplate(template, ["stacks/network", "stacks/App_Server"]);
    expect(targets).toEqual([
      {
        name: "stacks-app-server",
        repo: template.repo,
        stack: "prod",
        dependsOn: ["network"],
        path: "stacks/App_Server",
        watchPaths: ["lib/"],
      },
      expect.objectContaining({ name: "stacks-network", path: "stacks/network" }),
    ]);
    expect(
      expandTemplate({ ...template, name: "infra", paths: "envs/*/infra" }, ["envs/prod/infra"])[0]?.name,
    ).toBe("infra-prod");
  });

  it("expands templates against a checkout of their ref", async () => {
    const asked: SourceRef[] = [];
    const source: Source = {
      resolve: async (ref) => {
        asked.push(ref);
        return "c".repeat(40);
      },
      checkout: async (_ref, _revision, dir) => layout(dir, REPO_FILES),
      changedFiles: async () => [],
    };
    const targets = await discoverTargets([template], { source, dataDir: join(root, "data") });
    expect(targets.map((t) => t.name)).toEqual(["stacks-app-server", "stacks-network"]);
    expect(asked).toEqual([{ repo: template.repo, ref: "main", auth: {} }]);
    await expect(
      discoverTargets([{ ...template, paths: "nope/*" }], { source, dataDir: join(root, "data") }),
    ).rejects.toThrowError(/`paths` matches no directory with a Pulumi.yaml at cccccccccccc, got "nope\/\*"/);
  });

  it("reads entries with paths from the config file as templates", () => {
    const text = `dataDir: ./data
targets:
  - name: network
    repo: https://github.com/acme/infra.git
    path: network
    stack: prod
  - name: stacks
    repo: https://github.com/acme/infra.git
    paths: "stacks/*"
    sharedPaths: ["lib/"]
    stack: prod
    dependsOn: [network]
`;
    const config = parseConfig(text, "/etc/driftless/driftless.yaml");
    expect(config.targets.map((t) => t.name)).toEqual(["network"]);
    expect(config.discover).toEqual([expect.objectContaining({ name: "stacks", paths: "stacks/*" })]);
    const bad = text.replace('paths: "stacks/*"', 'paths: "../x/*"\n    path: app\n    interval: 1s');
    let error: ConfigError | undefined;
    try {
      parseConfig(bad, "/etc/driftless/driftless.yaml");
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error?.message).toMatch(/targets\[1\]\.paths must be a directory glob inside the repository/);
    expect(error?.message).toMatch(/targets\[1\]\.path cannot be set with `paths`/);
    expect(error?.message).toMatch(/targets\[1\]\.interval must be at least 10s/);
  });
});
