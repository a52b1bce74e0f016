import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, SECRET_SIG, SECRET_SIG_KEY, settle } from "../../test/harness.js";
import { shortHash } from "../internal/hash.js";
import { ConfigBundle } from "./configBundle.js";

describe("ConfigBundle", () => {
  it("creates an immutable ConfigMap named after a hash of its content", async () => {
    const { one, result } = await declare(
      () => new ConfigBundle("settings", { data: { B: "2", A: "1" }, namespace: "app" }),
    );
    const expected = `settings-${shortHash(
      JSON.stringify([
        ["A", "1"],
        ["B", "2"],
      ]),
    )}`;
    const cm = one("kubernetes:core/v1:ConfigMap").inputs;
    expect(cm.metadata.name).toBe(expected);
    expect(cm.metadata.name).toMatch(/^settings-[0-9a-f]{8}$/);
    expect(cm.metadata.namespace).toBe("app");
    expect(cm.immutable).toBe(true);
    expect(cm.data).toEqual({ A: "1", B: "2" });
    expect(await settle(result.objectName)).toBe(expected);
    expect(result.kind).toBe("ConfigMap");
    expect(result.keys).toEqual(["A", "B"]);
  });

  it("changes the name when a value or a key changes, not when the order does", async () => {
    const nameOf = async (data: Record<string, string>) =>
      (await declare(() => new ConfigBundle("settings", { data }))).one("kubernetes:core/v1:ConfigMap").inputs
        .metadata.name;
    const original = await nameOf({ A: "1", B: "2" });
    expect(await nameOf({ B: "2", A: "1" })).toBe(original);
    expect(await nameOf({ A: "1", B: "3" })).not.toBe(original);
    expect(await nameOf({ A: "1", C: "2" })).not.toBe(original);
  });

  it("stores secret data as a Pulumi secret in a Secret and keeps the name readable", async () => {
    const { one, result } = await declare(
      () =>
        new ConfigBundle("creds", { data: { TOKEN: pulumi.output("abc") }, secret: true, skipAwait: true }),
    );
    const secret = one("kubernetes:core/v1:Secret").inputs;
    expect(secret.metadata.name).toMatch(/^creds-[0-9a-f]{8}$/);
    expect(secret.metadata.annotations).toEqual({
      "pulumi.com/patchForce": "true",
      "pulumi.com/skipAwait": "true",
    });
    // The monitor receives the data wrapped in Pulumi's secret marker.
    expect(secret.stringData).toEqual({ [SECRET_SIG_KEY]: SECRET_SIG, value: { TOKEN: "abc" } });
    expect(result.kind).toBe("Secret");
    expect(result.secret).toBeDefined();
    expect(await pulumi.isSecret(result.secret?.stringData as pulumi.Output<unknown>)).toBe(true);
    expect(await pulumi.isSecret(result.objectName)).toBe(false);
  });

  it.each([
    [{}, "ConfigBundle `settings`: `data` must hold at least one key, got {}"],
    [
      { "bad key": "x" },
      '`data.bad key` key must consist of letters, digits, `-`, `_` or `.`, got "bad key"',
    ],
    [{ A: 1 as unknown as string }, "`data.A` must be a string, got 1"],
  ])("rejects data %j", async (data, message) => {
    await expect(declare(() => new ConfigBundle("settings", { data }))).rejects.toThrow(message);
  });

  it("rejects a name too long to carry the hash", async () => {
    await expect(declare(() => new ConfigBundle("x".repeat(55), { data: { A: "1" } }))).rejects.toThrow(
      "must be at most 54 characters",
    );
  });
});
