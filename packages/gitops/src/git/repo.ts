/**
 * Which repository a URL names: the one identity webhooks, promotions,
 * dependency checks, stack leases and Git mirrors compare repositories by.
 */

/**
 * A repository URL reduced to `host/path`, so the forms one repository goes by
 * compare equal: `https://GitHub.com/org/app.git`, `git@github.com:org/app`,
 * `ssh://git@github.com:22/org/app.git/` all become `github.com/org/app`.
 * Credentials, ports, a trailing `/` and a `.git` suffix are dropped and the
 * host is lowercased; the path keeps its case because most Git servers treat
 * it as case-sensitive. `file://` URLs keep their absolute path.
 */
export function repoIdentity(url: string): string {
  const text = url.trim();
  let host = "";
  let path: string;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.*)$/.exec(text);
  const withScheme = /^[a-z][\w+.-]*:\/\/([^/]*)(.*)$/i.exec(text);
  if (withScheme) {
    const authority = withScheme[1] ?? "";
    host = authority.replace(/^[^@]*@/, "").replace(/:\d*$/, "");
    path = withScheme[2] ?? "";
  } else if (scp) {
    host = scp[1] ?? "";
    path = `/${scp[2] ?? ""}`;
  } else {
    path = text;
  }
  path = path
    .replace(/\/+$/, "")
    .replace(/\.git$/i, "")
    .replace(/\/+$/, "")
    .replace(/\/{2,}/g, "/");
  if (!path.startsWith("/")) path = `/${path}`;
  return `${host.toLowerCase()}${path}`;
}

/** Whether two URLs name one repository (see {@link repoIdentity}). */
export function sameRepo(a: string, b: string): boolean {
  return repoIdentity(a) === repoIdentity(b);
}
