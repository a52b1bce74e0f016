import { describe, expect, it } from "vitest";
import type { StateResource } from "../engine/types.js";
import { providerKubeconfig } from "./kubeconfig.js";

// Made by the Pulumi CLI 3.259.0: `pulumi stack init --secrets-provider passphrase` and
// `pulumi config set --secret kubeconfig '"/etc/kube/config"'` with the passphrase below.
const SALT = "v1:k7muZs5wRrQ=:v1:3Uec+MPixVYqTtcb:I2fxNKv3rKSTk0UPC7hYaBLng4xQdA==";
const CIPHERTEXT = "v1:03nH+q67XcH1CXLt:AfgeHb7Fxs9wBHGO5zu3UJ/BSl4dvgxAYwlg47338gOrjQ==";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

const provider = (kubeconfig: unknown): StateResource => ({
  urn: "urn:pulumi:dev::p::pulumi:providers:kubernetes::cluster",
  type: "pulumi:providers:kubernetes",
  custom: true,
  outputs: { kubeconfig },
});
const secrets = { type: "passphrase", state: { salt: SALT } };

describe("providerKubeconfig", () => {
  it("reads a plain kubeconfig input as it is", async () => {
    expect(await providerKubeconfig(provider("/etc/kube/config"), undefined, () => "x")).toBe(
      "/etc/kube/config",
    );
    expect(await providerKubeconfig(provider(undefined), undefined, () => "x")).toBeUndefined();
  });

  it("decrypts a secret one with the stack's passphrase, as Pulumi encrypted it", async () => {
    const secret = { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", ciphertext: CIPHERTEXT };
    expect(await providerKubeconfig(provider(secret), secrets, () => "test-passphrase")).toBe(
      "/etc/kube/config",
    );
  }, 30_000);

  it("says so when the passphrase or the secrets provider cannot open it", async () => {
    const secret = { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", ciphertext: CIPHERTEXT };
    await expect(providerKubeconfig(provider(secret), secrets, () => "wrong")).rejects.toThrow(
      /passphrase does not open the stack's secrets/,
    );
    await expect(
      providerKubeconfig(provider(secret), { type: "awskms", state: {} }, () => "test-passphrase"),
    ).rejects.toThrow(/encrypted by the awskms secrets provider; set the target's `watch.kubeconfig`/);
  }, 30_000);
});
