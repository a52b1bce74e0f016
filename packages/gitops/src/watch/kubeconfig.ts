/**
 * Which cluster a target's Kubernetes objects live on: the kubeconfig its
 * stack's Kubernetes provider was given (an input kept in the state,
 * decrypted with the stack's passphrase when it is a secret), the target's
 * explicit `watch.kubeconfig`, or its `KUBECONFIG`. Values read here are
 * never logged.
 */
import { createDecipheriv, pbkdf2 } from "node:crypto";
import { readFileSync } from "node:fs";
import type { StateResource } from "../engine/types.js";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** The stack's secrets provider as its checkpoint records it. */
export interface SecretsProviderState {
  readonly type?: string;
  readonly state?: { readonly salt?: string } & Readonly<Record<string, unknown>>;
}

/**
 * The `kubeconfig` input of a Kubernetes provider resource, decrypted when
 * the state keeps it as a secret; `undefined` when it has none (a default
 * provider reads `KUBECONFIG` or `~/.kube/config`).
 * @throws Error when the value is encrypted by a secrets provider other than
 *   the passphrase, or the passphrase does not open it
 */
export async function providerKubeconfig(
  provider: StateResource | undefined,
  secrets: SecretsProviderState | undefined,
  passphrase: () => string,
): Promise<string | undefined> {
  const value = provider?.outputs?.kubeconfig;
  if (typeof value === "string") return value || undefined;
  if (!value || typeof value !== "object" || !(SECRET_SIG in value)) return undefined;
  const secret = value as { ciphertext?: string; plaintext?: string };
  if (typeof secret.plaintext === "string") return JSON.parse(secret.plaintext) as string;
  if (typeof secret.ciphertext !== "string") return undefined;
  if (secrets?.type !== "passphrase" || typeof secrets.state?.salt !== "string")
    throw new Error(
      `the provider's kubeconfig is encrypted by the ${secrets?.type ?? "unknown"} secrets provider; set the target's \`watch.kubeconfig\``,
    );
  const key = await passphraseKey(passphrase(), secrets.state.salt);
  const plain = decrypt(key, secret.ciphertext);
  const decoded = JSON.parse(plain) as unknown;
  return typeof decoded === "string" ? decoded : undefined;
}

const keys = new Map<string, Promise<Buffer>>();

/**
 * The key of Pulumi's passphrase secrets manager: PBKDF2-SHA256 of the
 * passphrase with the stack's salt, 1,000,000 rounds (in the thread pool,
 * once per passphrase and salt), checked against the salt's encrypted "pulumi".
 */
function passphraseKey(passphrase: string, state: string): Promise<Buffer> {
  const id = `${state}\0${passphrase}`;
  let key = keys.get(id);
  if (!key) {
    const [version, salt] = state.split(":");
    if (version !== "v1" || !salt)
      return Promise.reject(new Error("the stack's passphrase salt is not in the v1 format"));
    const check = state.split(":").slice(2).join(":");
    key = new Promise<Buffer>((resolve, reject) =>
      pbkdf2(passphrase, Buffer.from(salt, "base64"), 1_000_000, 32, "sha256", (error, derived) => {
        if (error) return reject(error);
        try {
          if (decrypt(derived, check) !== "pulumi") throw new Error();
          resolve(derived);
        } catch {
          reject(new Error("the target's passphrase does not open the stack's secrets"));
        }
      }),
    );
    key.catch(() => keys.delete(id));
    keys.set(id, key);
  }
  return key;
}

/** `v1:<nonce>:<ciphertext+tag>` in base64, AES-256-GCM. */
function decrypt(key: Buffer, value: string): string {
  const [version, nonce, sealed] = value.split(":");
  if (version !== "v1" || !nonce || !sealed) throw new Error("a secret of the state is not in the v1 format");
  const bytes = Buffer.from(sealed, "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString(
    "utf8",
  );
}

/** A target's explicit `watch.kubeconfig`: a file's path, or an environment variable holding contents or a path. */
export function explicitKubeconfig(source: { readonly file: string } | { readonly env: string }): string {
  if ("file" in source) {
    readFileSync(source.file); // fails early, naming the file
    return source.file;
  }
  const value = process.env[source.env];
  if (!value) throw new Error(`watch.kubeconfig: environment variable ${source.env} is not set`);
  return value;
}
