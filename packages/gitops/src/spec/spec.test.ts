import type { PulumiFn } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { DEFAULT_PROTECTED_TYPES, formatPath, resolveTarget } from "./spec.js";

const defaults = { dataDir: "/var/lib/driftless" };
const base = { name: "site", repo: "https://example.com/infra.git", stack: "dev" };

function errorOf(input: unknown): SpecError {
  try {
    resolveTarget(input, defaults);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return error as SpecError;
  }
  throw new Error("expected resolveTarget to throw");
}

describe("resolveTarget defaults", () => {
  it("resolves every default of a minimal spec", () => {
    const target = resolveTarget(base, defaults);
    expect(target).toEqual({
      name: "site",
      repo: "https://example.com/infra.git",
      ref: "main",
      path: ".",
      stack: "dev",
      program: undefined,
      projectName: undefined,
      backend: "file:///var/lib/driftless/state",
      secretsProvider: "passphrase",
      passphrase: { env: "PULUMI_CONFIG_PASSPHRASE" },
      config: {},
      secretConfig: {},
      env: {},
      inheritEnv: [],
      mode: "apply",
      refresh: true,
      intervalMs: 5 * 60_000,
      jitter: 0.1,
      schedule: undefined,
      resyncMs: 30 * 60_000,
      timeoutMs: 30 * 60_000,
      suspend: false,
      gates: {
        maxDestructiveShare: 0.5,
        protectedTypes: DEFAULT_PROTECTED_TYPES,
        allowDestructive: false,
        allowEmpty: false,
      },
      destroyOnRemove: false,
      auth: {},
      dependsOn: [],
      windows: undefined,
      approval: { distinctFromAuthor: false },
      requireApproval: "never",
      watchPaths: [],
      watch: { enabled: true },
    });
  });

  it("turns watching off, names its kubeconfig, and refuses another shape naming the field", () => {
    expect(resolveTarget({ ...base, watch: false }, defaults).watch).toEqual({ enabled: false });
    expect(resolveTarget({ ...base, watch: { kubeconfig: { env: "KUBE" } } }, defaults).watch).toEqual({
      enabled: true,
      kubeconfig: { env: "KUBE" },
    });
    expect(() => resolveTarget({ ...base, watch: "yes" }, defaults)).toThrow(/watch.*must be true, false or/);
  });

  it("keeps given values and converts config scalars to strings", () => {
    const target = resolveTarget(
      {
        ...base,
        ref: "refs/tags/v1",
        path: "stacks/./site/",
        backend: "s3://bucket/state",
        config: { replicas: 3, debug: true, region: "eu-west-1" },
        mode: "detect",
        refresh: false,
        interval: "1h30m",
        resync: 120_000,
        timeout: "90s",
        jitter: 0,
        schedule: "*/15 * * * *",
        gates: { maxDestructiveShare: 0.25, allowEmpty: true },
      },
      defaults,
    );
    expect(target.ref).toBe("refs/tags/v1");
    expect(target.path).toBe("stacks/site/");
    expect(target.backend).toBe("s3://bucket/state");
    expect(target.config).toEqual({ replicas: "3", debug: "true", region: "eu-west-1" });
    expect(target.mode).toBe("detect");
    expect(target.refresh).toBe(false);
    expect(target.intervalMs).toBe(5_400_000);
    expect(target.resyncMs).toBe(120_000);
    expect(target.timeoutMs).toBe(90_000);
    expect(target.jitter).toBe(0);
    expect(target.schedule).toBe("*/15 * * * *");
    expect(target.gates).toEqual({
      maxDestructiveShare: 0.25,
      protectedTypes: DEFAULT_PROTECTED_TYPES,
      allowDestructive: false,
      allowEmpty: true,
    });
  });

  it("names an inline program's project after the target", () => {
    const program: PulumiFn = async () => ({});
    const target = resolveTarget({ ...base, program }, defaults);
    expect(target.program).toBe(program);
    expect(target.projectName).toBe("site");
    expect(resolveTarget({ ...base, program, projectName: "web" }, defaults).projectName).toBe("web");
  });

  it("accepts every documented repository form", () => {
    for (const repo of [
      "https://github.com/o/r.git",
      "http://localhost:8080/r.git",
      "ssh://git@host/r.git",
      "git@github.com:o/r.git",
      "file:///srv/git/r.git",
    ]) {
      expect(resolveTarget({ ...base, repo }, defaults).repo).toBe(repo);
    }
  });
});

describe("resolveTarget rejects malformed specs", () => {
  // Each case: the spec, then a pattern that must name the field and echo the bad value.
  const cases: [string, unknown, RegExp][] = [
    ["an uppercase name", { ...base, name: "Site" }, /`name` must be a DNS label.*got "Site"/],
    [
      "a name over 63 characters",
      { ...base, name: "a".repeat(64) },
      /`name` must be a DNS label.*got "a{64}"/,
    ],
    ["a name with an underscore", { ...base, name: "my_site" }, /`name` .*got "my_site"/],
    [
      "an ftp repository",
      { ...base, repo: "ftp://example.com/r.git" },
      /`repo` must be an https:\/\/.*got "ftp:\/\/example.com\/r.git"/,
    ],
    ["a bare path as repository", { ...base, repo: "/srv/git/r.git" }, /`repo` .*got "\/srv\/git\/r.git"/],
    [
      "a path that climbs out",
      { ...base, path: "stacks/../../etc" },
      /`path` must stay inside the repository, got "stacks\/..\/..\/etc"/,
    ],
    [
      "an absolute path",
      { ...base, path: "/etc/passwd" },
      /`path` must be relative to the repository root, got "\/etc\/passwd"/,
    ],
    ["a missing stack", { name: "site", repo: base.repo }, /`stack` is invalid, it is missing/],
    [
      "a stack with too many parts",
      { ...base, stack: "a/b/c/d" },
      /`stack` must be a stack name.*got "a\/b\/c\/d"/,
    ],
    [
      "an interval below the minimum",
      { ...base, interval: "5s" },
      /`interval` must be at least 10s.*got "5s"/,
    ],
    [
      "an interval in milliseconds below the minimum",
      { ...base, interval: 9999 },
      /`interval` must be at least 10s.*got 9999/,
    ],
    [
      "an interval that is not a duration",
      { ...base, interval: "soon" },
      /`interval` must be a duration such as.*got "soon"/,
    ],
    ["a resync that is not a duration", { ...base, resync: true }, /`resync` must be a duration.*got true/],
    [
      "a timeout below one second",
      { ...base, timeout: "500ms" },
      /`timeout` must be at least 1s.*got "500ms"/,
    ],
    [
      "a bad cron schedule",
      { ...base, schedule: "every day" },
      /`schedule` is not a cron expression.*got "every day"/,
    ],
    [
      "an unknown mode",
      { ...base, mode: "yolo" },
      /`mode` must be one of apply, detect, preview, got "yolo"/,
    ],
    ["a jitter above 1", { ...base, jitter: 2 }, /`jitter` must be between 0 and 1, got 2/],
    ["a misspelt field", { ...base, intervall: "5m" }, /has unknown field\(s\) intervall/],
    [
      "a misspelt gate",
      { ...base, gates: { allowEmtpy: true } },
      /`gates` has unknown field\(s\) allowEmtpy/,
    ],
    [
      "a secretConfig value of the wrong shape",
      { ...base, secretConfig: { token: { envv: "TOKEN" } } },
      /`secretConfig.token` must be a string, \{ env: "NAME" \} or \{ file: "\/path" \}, got \{"envv":"TOKEN"\}/,
    ],
    [
      "a secretConfig number",
      { ...base, secretConfig: { token: 42 } },
      /`secretConfig.token` must be a string.*got 42/,
    ],
    [
      "an env key with a space",
      { ...base, env: { "MY VAR": "x" } },
      /`env` has a key that is not an environment variable name, got "MY VAR"/,
    ],
    [
      "a config key with a bang",
      { ...base, config: { "bad key!": "v" } },
      /`config` has a key that is not a config key.*got "bad key!"/,
    ],
    [
      "a config value that is an object",
      { ...base, config: { region: { a: 1 } } },
      /`config.region` must be a string, number or boolean, got \{"a":1\}/,
    ],
    [
      "a destructive share of 1.5",
      { ...base, gates: { maxDestructiveShare: 1.5 } },
      /`gates.maxDestructiveShare` must be between 0 and 1, got 1.5/,
    ],
    [
      "an empty protected type",
      { ...base, gates: { protectedTypes: ["aws:rds/*", ""] } },
      /`gates.protectedTypes\[1\]` .*got ""/,
    ],
    [
      "a ref with '..'",
      { ...base, ref: "main..evil" },
      /`ref` is not a valid Git ref name, got "main..evil"/,
    ],
    ["a ref starting with '-'", { ...base, ref: "-upload-pack=evil" }, /`ref` .*got "-upload-pack=evil"/],
    [
      "a ref with a space",
      { ...base, ref: "my branch" },
      /`ref` must be a branch, tag or commit SHA, got "my branch"/,
    ],
    [
      "a program that is not a function",
      { ...base, program: "index.js" },
      /`program` must be a function \(an inline program\), got "index.js"/,
    ],
    [
      "a backend with a bad scheme",
      { ...base, backend: "ftp://state" },
      /`backend` must be a backend URL.*got "ftp:\/\/state"/,
    ],
    ["an empty passphrase", { ...base, passphrase: "" }, /`passphrase` must not be empty, got ""/],
    [
      "an auth token env that is not a variable name",
      { ...base, auth: { token: { env: "1X" } } },
      /`auth.token.env` must be an environment variable name, got "1X"/,
    ],
    [
      "an SSH key given as a plain string",
      { ...base, auth: { sshKey: "/keys/deploy" } },
      /`auth.sshKey` must be \{ file: "\/path" \} or \{ env: "NAME" \} holding the key itself; a key file's path alone goes in `sshKeyPath`/,
    ],
    [
      "an SSH key from a source and a path at once",
      { ...base, auth: { sshKey: { env: "DEPLOY_KEY" }, sshKeyPath: "/keys/deploy" } },
      /`auth.sshKey` must give `sshKey` or `sshKeyPath`, not both/,
    ],
    [
      "a refresh given as a string",
      { ...base, refresh: "yes" },
      /`refresh` must be true or false, got "yes"/,
    ],
    ["a string instead of an object", "site", /^target: must be an object, got "site"$/],
    ["null", null, /^target: must be an object, got null$/],
    ["an array", [base], /^target: must be an object, got \[/],
  ];

  it.each(cases)("rejects %s", (_what, input, pattern) => {
    expect(() => resolveTarget(input, defaults)).toThrowError(pattern);
    expect(() => resolveTarget(input, defaults)).toThrowError(SpecError);
  });

  it("names the target in the message when its name is valid", () => {
    expect(() => resolveTarget({ ...base, mode: "yolo" }, defaults)).toThrowError(/^target "site": /);
  });

  it("reports every bad field at once, each as an issue", () => {
    const error = errorOf({ ...base, jitter: -1, mode: "yolo", interval: "soon" });
    expect(error.issues.map((i) => i.path).sort()).toEqual(["interval", "jitter", "mode"]);
    expect(error.message.split("; ")).toHaveLength(3);
  });

  it("shortens long bad values in the message", () => {
    const error = errorOf({ ...base, repo: `ftp://${"x".repeat(200)}` });
    expect(error.message).toMatch(/got "ftp:\/\/x+\.\.\.$/);
    expect(error.message.length).toBeLessThan(250);
  });
});

describe("formatPath", () => {
  it("joins keys with dots and indexes with brackets", () => {
    expect(formatPath(["targets", 2, "gates", "protectedTypes", 0])).toBe(
      "targets[2].gates.protectedTypes[0]",
    );
    expect(formatPath([])).toBe("");
  });
});
