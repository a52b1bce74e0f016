import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { deleteFirstSettings, stackSettingsFile, withDeleteFirst } from "./deleteFirst.js";

describe("delete-before-replace through the stack's autonaming", () => {
  it("names the types verbatim, keeping the settings and other autonaming", () => {
    const settings = [
      "encryptionsalt: v1:abc",
      "config:",
      "  app:kubeconfig: /tmp/kc",
      "  pulumi:autonaming:",
      "    providers:",
      "      aws:",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Pulumi's autonaming pattern syntax
      "        pattern: ${name}-${hex(4)}",
      "",
    ].join("\n");
    const out = parse(
      deleteFirstSettings(settings, ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Secret"]),
    );
    expect(out.encryptionsalt).toBe("v1:abc");
    expect(out.config["app:kubeconfig"]).toBe("/tmp/kc");
    expect(out.config["pulumi:autonaming"].providers).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Pulumi's autonaming pattern syntax
      aws: { pattern: "${name}-${hex(4)}" },
      kubernetes: {
        resources: {
          "kubernetes:apps/v1:Deployment": { mode: "verbatim" },
          "kubernetes:core/v1:Secret": { mode: "verbatim" },
        },
      },
    });
    expect(parse(deleteFirstSettings(undefined, ["kubernetes:core/v1:Secret"]))).toEqual({
      config: {
        "pulumi:autonaming": {
          providers: { kubernetes: { resources: { "kubernetes:core/v1:Secret": { mode: "verbatim" } } } },
        },
      },
    });
  });

  it("hands the operation a config file it removes afterwards, and none without types", async () => {
    const dir = mkdtempSync(join(tmpdir(), "driftless-delete-first-test-"));
    try {
      const settings = stackSettingsFile(dir, "org/app/dev");
      expect(settings).toBe(join(dir, "Pulumi.dev.yaml"));
      writeFileSync(settings, "config:\n  app:x: '1'\n");
      let used: string | undefined;
      const text = await withDeleteFirst(settings, ["kubernetes:core/v1:Secret"], async (file) => {
        used = file;
        return readFile(file as string, "utf8");
      });
      expect(text).toContain("kubernetes:core/v1:Secret");
      expect(used).toBeDefined();
      expect(existsSync(used as string)).toBe(false);
      expect(await withDeleteFirst(settings, [], async (file) => file)).toBeUndefined();
      expect(await readFile(settings, "utf8")).toBe("config:\n  app:x: '1'\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
