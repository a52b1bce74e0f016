import { afterEach, describe, expect, it } from "vitest";
import {
  backendEnvPatterns,
  ENGINE_ENV_ALLOWLIST,
  inheritedEnv,
  legacyRefreshDiff,
  matchesEnvPattern,
} from "./env.js";
import { runPulumi } from "./pulumiCommand.js";

const SERVICE_SECRET = "DRIFTLESS_ENGINE_ENV_TEST_TOKEN";

describe("the engine's environment", () => {
  afterEach(() => {
    delete process.env[SERVICE_SECRET];
    delete process.env.AWS_ENGINE_ENV_TEST;
  });

  it("tells when the engine's refresh diffs outputs (a drift check must then preview)", () => {
    expect(legacyRefreshDiff({}, {})).toBe(false);
    expect(legacyRefreshDiff({}, { PULUMI_ENABLE_LEGACY_REFRESH_DIFF: "true" })).toBe(true);
    expect(legacyRefreshDiff({ PULUMI_ENABLE_LEGACY_REFRESH_DIFF: "1" }, {})).toBe(true);
    // The target's own setting wins over the inherited one.
    expect(
      legacyRefreshDiff(
        { PULUMI_ENABLE_LEGACY_REFRESH_DIFF: "false" },
        { PULUMI_ENABLE_LEGACY_REFRESH_DIFF: "1" },
      ),
    ).toBe(false);
  });

  it("matches names exactly and prefixes ending in *", () => {
    expect(matchesEnvPattern("AWS_REGION", "AWS_*")).toBe(true);
    expect(matchesEnvPattern("AWS_REGION", "AWS_REGION")).toBe(true);
    expect(matchesEnvPattern("AWS_REGION_X", "AWS_REGION")).toBe(false);
    expect(matchesEnvPattern("ANYTHING", "*")).toBe(true);
  });

  it("keeps only the allowlisted variables of a source", () => {
    const source = {
      PATH: "/bin",
      LC_ALL: "C",
      PULUMI_HOME: "/p",
      DRIFTLESS_TOKEN: "t0k3n",
      GH_HOOK_SECRET: "h",
    };
    expect(inheritedEnv(ENGINE_ENV_ALLOWLIST, source)).toEqual({
      PATH: "/bin",
      LC_ALL: "C",
      PULUMI_HOME: "/p",
    });
    expect(inheritedEnv(["*"], source)).toEqual(source);
  });

  it("passes what a backend or secrets provider reads by its URL scheme", () => {
    expect(backendEnvPatterns("s3://bucket/state", "passphrase")).toEqual(["AWS_*"]);
    expect(backendEnvPatterns("file:///var/state", "gcpkms://projects/p/keys/k")).toEqual([
      "GOOGLE_*",
      "GCLOUD_*",
      "CLOUDSDK_*",
    ]);
    expect(backendEnvPatterns("postgres://db/state", "passphrase")).toEqual([]);
  });

  it("starts the CLI with the allowlist and its own variables, never this process's secrets", async () => {
    process.env[SERVICE_SECRET] = "service-token-value";
    process.env.AWS_ENGINE_ENV_TEST = "aws-value";
    // `env` stands in for the CLI: it prints the environment it was started with.
    const { stdout } = await runPulumi("env", [], process.cwd(), { GIVEN_BY_TARGET: "yes" });
    const seen = Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(seen[SERVICE_SECRET]).toBeUndefined();
    expect(seen.AWS_ENGINE_ENV_TEST).toBeUndefined();
    expect(seen.GIVEN_BY_TARGET).toBe("yes");
    expect(seen.PATH).toBe(process.env.PATH);
  });
});
