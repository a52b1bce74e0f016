/**
 * Makes `value` a valid Kubernetes label value: at most 63 characters of
 * `[A-Za-z0-9._-]`, starting and ending alphanumeric. Runs of other characters
 * become one `_`. Returns `undefined` when nothing valid is left.
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 */
export function toLabelValue(value: string): string | undefined {
  const replaced = value.replace(/[^A-Za-z0-9._-]+/g, "_");
  const trimmed = trimToAlphanumeric(replaced);
  const cut = trimToAlphanumeric(trimmed.slice(0, 63));
  return cut === "" ? undefined : cut;
}

function trimToAlphanumeric(value: string): string {
  return value.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

/**
 * Makes `value` a valid AWS tag value: at most 256 characters of letters,
 * digits, spaces and `_ . : / = + - @`; anything else becomes `_`.
 * @see https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
 */
export function toTagValue(value: string): string {
  return value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, "_").slice(0, 256);
}

/**
 * Removes credentials from a repository URL: user info, query string and
 * fragment of `http(s)`/`ssh` URLs (`https://x-token:abc@host/r.git` becomes
 * `https://host/r.git`). scp-like addresses (`git@host:org/r.git`) carry no
 * secret and are kept.
 */
export function stripCredentials(repo: string): string {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return repo;
  }
  if (url.protocol === "file:") return repo;
  const keepUser = url.protocol === "ssh:" && url.password === "" ? url.username : "";
  url.username = keepUser;
  url.password = "";
  url.search = "";
  url.hash = "";
  return url.toString();
}
