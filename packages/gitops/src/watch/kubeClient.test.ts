import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseKubeconfig } from "./kubeClient.js";

const KUBECONFIG = `apiVersion: v1
kind: Config
current-context: dev
clusters:
  - name: prod
    cluster: { server: "https://prod.example:6443" }
  - name: dev
    cluster: { server: "https://dev.example:6443/", certificate-authority: ca.crt }
users:
  - name: alice
    user: { token: t0ken }
contexts:
  - name: dev
    context: { cluster: dev, user: alice }
`;

describe("parseKubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "driftless-kubeconfig-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the current context's cluster and user from contents or a file, relative paths from the project", () => {
    const fromContents = parseKubeconfig(KUBECONFIG, dir);
    expect(fromContents).toMatchObject({
      server: "https://dev.example:6443",
      user: { token: "t0ken" },
      baseDir: dir,
    });
    writeFileSync(join(dir, "kubeconfig"), KUBECONFIG);
    const fromFile = parseKubeconfig("kubeconfig", dir);
    expect(fromFile.server).toBe("https://dev.example:6443");
    // The same cluster and identity share watches.
    expect(fromFile.key).toBe(fromContents.key);
    expect(parseKubeconfig(KUBECONFIG.replace("t0ken", "other"), dir).key).not.toBe(fromContents.key);
  });

  it("says what is missing, without echoing the contents", () => {
    const noContext = KUBECONFIG.replace("current-context: dev", "current-context: nope");
    expect(() => parseKubeconfig(noContext, dir)).toThrow(/no current context naming a cluster/);
    expect(() => parseKubeconfig(noContext, dir)).not.toThrow(/t0ken/);
  });
});
