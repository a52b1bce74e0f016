// Ref discovery without a git process: the commit a branch or tag names, read
// straight from a local repository's files or from one smart-HTTP request.
// Anything this module cannot answer exactly as `git ls-remote` would (reftable
// repositories, packed annotated tags without peeled entries, proxies, custom
// TLS or URL rewriting in git's configuration) answers `undefined`, and the
// caller asks git.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { isFullSha } from "../util.js";
import { runGit } from "./gitProcess.js";

/** Ref name → object id, as `git ls-remote` lists them (peeled tags as `name^{}`). */
export type RefMap = ReadonlyMap<string, string>;

/**
 * The given refs of a local repository (`file://` URL or path), read from its
 * files: loose refs, `packed-refs` and, for annotated tags, the tag object.
 * `undefined` when the repository's layout needs git to read it.
 */
export function readLocalRefs(repo: string, names: readonly string[]): RefMap | undefined {
  const gitDir = localGitDir(repo);
  if (!gitDir) return undefined;
  let packed: PackedRefs | undefined;
  const packedRefs = () => {
    packed ??= readPackedRefs(gitDir);
    return packed;
  };
  const refs = new Map<string, string>();
  for (const name of names) {
    const peeled = name.endsWith("^{}");
    const ref = readRef(gitDir, peeled ? name.slice(0, -3) : name, packedRefs);
    if (ref === null) return undefined;
    if (!ref) continue;
    if (!peeled) {
      refs.set(name, ref.sha);
      continue;
    }
    if (ref.packed) {
      const pack = packedRefs();
      const target = pack.peeled.get(ref.name);
      if (target) refs.set(name, target);
      // A fully peeled file lists every annotated tag's target: no entry, no annotated tag.
      if (target || pack.fullyPeeled) continue;
    }
    const target = peelTag(gitDir, ref.sha);
    if (target === null) return undefined;
    if (target) refs.set(name, target);
  }
  return refs;
}

function localGitDir(repo: string): string | undefined {
  let path: string;
  if (repo.startsWith("file://")) {
    try {
      path = fileURLToPath(repo);
    } catch {
      return undefined;
    }
  } else if (repo.startsWith("/")) {
    path = repo;
  } else {
    return undefined;
  }
  const candidates = [path, join(path, ".git")];
  for (const dir of candidates) {
    try {
      if (!statSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    if (!existsSync(join(dir, "HEAD")) || !existsSync(join(dir, "objects"))) continue;
    // Worktrees share refs through `commondir`; reftable stores refs in another format.
    if (existsSync(join(dir, "commondir")) || existsSync(join(dir, "reftable"))) return undefined;
    const config = readText(join(dir, "config")) ?? "";
    if (/^\s*refstorage\s*=/im.test(config)) return undefined;
    return dir;
  }
  return undefined;
}

interface PackedRefs {
  readonly refs: Map<string, string>;
  /** Annotated tag name → the object it peels to (`^` lines). */
  readonly peeled: Map<string, string>;
  /** Whether every annotated tag has a `^` line (the `fully-peeled` trait). */
  readonly fullyPeeled: boolean;
}

/**
 * A ref's object id and whether it came from `packed-refs` (symbolic refs
 * followed); `""` when absent, `null` when it cannot be read without git.
 */
function readRef(
  gitDir: string,
  name: string,
  packed: () => PackedRefs,
  depth = 0,
): { readonly name: string; readonly sha: string; readonly packed: boolean } | "" | null {
  if (depth > 5 || name.split("/").includes("..")) return null;
  const loose = readText(join(gitDir, name));
  if (loose !== undefined) {
    const value = loose.trim();
    if (isFullSha(value)) return { name, sha: value, packed: false };
    if (value.startsWith("ref: ")) return readRef(gitDir, value.slice(5).trim(), packed, depth + 1);
    return null;
  }
  const sha = packed().refs.get(name);
  return sha ? { name, sha, packed: true } : "";
}

function readPackedRefs(gitDir: string): PackedRefs {
  const refs = new Map<string, string>();
  const peeled = new Map<string, string>();
  let fullyPeeled = false;
  let last: string | undefined;
  for (const line of (readText(join(gitDir, "packed-refs")) ?? "").split("\n")) {
    if (line.startsWith("#")) {
      fullyPeeled ||= /\bfully-peeled\b/.test(line);
    } else if (line.startsWith("^")) {
      if (last) peeled.set(last, line.slice(1).trim());
    } else {
      const [sha, name] = line.trim().split(" ");
      if (sha && name && isFullSha(sha)) {
        refs.set(name, sha);
        last = name;
      }
    }
  }
  return { refs, peeled, fullyPeeled };
}

/**
 * The commit an annotated tag (chain) points at, from loose objects; `""` for
 * an object that is not a tag, `null` when the object is packed (git reads it).
 */
function peelTag(gitDir: string, sha: string): string | null {
  let current = sha;
  for (let depth = 0; depth < 5; depth++) {
    let raw: Buffer;
    try {
      raw = inflateSync(readFileSync(join(gitDir, "objects", current.slice(0, 2), current.slice(2))));
    } catch {
      return null;
    }
    const nul = raw.indexOf(0);
    const header = raw.subarray(0, nul).toString();
    if (!header.startsWith("tag ")) return depth === 0 ? "" : current;
    const object = /^object ([0-9a-f]{40})$/m.exec(raw.subarray(nul + 1).toString());
    if (!object?.[1]) return null;
    current = object[1];
  }
  return null;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** What an HTTP ref listing needs besides the URL. */
export interface HttpRefOptions {
  /** `Authorization` header value, as git would send it (see `gitEnv`). */
  readonly authorization?: string;
  /** @default 30 s */
  readonly timeoutMs?: number;
  /** The environment git would run with, for its proxy, TLS and config variables. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** An HTTP ref listing that failed the way `git ls-remote` would fail. */
export class RefListingError extends Error {
  override readonly name = "RefListingError";
}

/**
 * Every ref of a smart-HTTP remote from one `info/refs?service=git-upload-pack`
 * request (protocol v0: one round trip, where v2 needs two), over a kept-alive
 * connection. `undefined` when git would do something this request does not:
 * a proxy, client certificates or other TLS settings besides a CA file, URL
 * rewriting or extra headers in git's configuration, or a dumb-HTTP server.
 */
export async function listHttpRefs(repo: string, options: HttpRefOptions = {}): Promise<RefMap | undefined> {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  const env = options.env ?? process.env;
  const tls = url.protocol === "https:" ? tlsOptions(env) : {};
  if (!tls || usesProxy(url, env) || (await gitHttpConfigSet(env))) return undefined;
  if (Object.keys(env).some((key) => GIT_HTTP_ENV.test(key))) return undefined;
  const headers: Record<string, string> = {
    accept: "application/x-git-upload-pack-advertisement",
    "user-agent": "git/2 (driftless)",
    pragma: "no-cache",
  };
  let authorization = options.authorization;
  if (url.username || url.password) {
    authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const where = `${url.origin}${url.pathname}`;
  let target = new URL(`${url.href.replace(/\/+$/, "")}/info/refs?service=git-upload-pack`);
  // Like git (http.followRedirects=initial), follow redirects of this first request;
  // credentials go only to the origin they were meant for.
  for (let hop = 0; ; hop++) {
    const sameOrigin = target.origin === url.origin;
    const reply = await get(
      target,
      { ...headers, ...(authorization && sameOrigin ? { authorization } : {}) },
      tls,
      options.timeoutMs ?? 30_000,
    ).catch((error: unknown) => {
      throw new RefListingError(`unable to access ${where}: ${describe(error)}`, { cause: error });
    });
    const location = reply.headers.location;
    if (reply.status >= 300 && reply.status < 400 && location && hop < 5) {
      target = new URL(location, target);
      continue;
    }
    if (reply.status < 200 || reply.status >= 300) {
      const reason =
        reply.status === 401 || reply.status === 403
          ? "authentication failed"
          : "the requested URL returned an error";
      throw new RefListingError(`unable to access ${where}: ${reason} (HTTP ${reply.status})`);
    }
    if (reply.headers["content-type"] !== "application/x-git-upload-pack-advertisement") return undefined;
    return parseAdvertisement(reply.body);
  }
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface HttpClients {
  readonly http: typeof import("node:http");
  readonly https: typeof import("node:https");
  readonly agents: { readonly http: import("node:http").Agent; readonly https: import("node:https").Agent };
}

let clients: HttpClients | undefined;

/**
 * `node:http` and `node:https` with their kept-alive agents, made at the first
 * request over HTTP. Through `process.getBuiltinModule`, not an `import`: an
 * ES import of `node:http` reads every export, and its `WebSocket` getter
 * loads Node's bundled undici (about 13 MB of a process that never fetches).
 */
function httpClients(): HttpClients {
  if (!clients) {
    const http = process.getBuiltinModule("node:http");
    const https = process.getBuiltinModule("node:https");
    clients = {
      http,
      https,
      agents: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) },
    };
  }
  return clients;
}

function get(url: URL, headers: Record<string, string>, tls: TlsOptions, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = { headers, timeout: timeoutMs };
    const { http, https, agents } = httpClients();
    const request =
      url.protocol === "https:"
        ? https.get(url, { ...options, ...tls, agent: agents.https })
        : http.get(url, { ...options, agent: agents.http });
    request.on("timeout", () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    request.on("error", reject);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
  });
}

interface TlsOptions {
  readonly ca?: Buffer;
  readonly rejectUnauthorized?: boolean;
}

const caFiles = new Map<string, Buffer>();

/**
 * The TLS settings git takes from its environment that this request can honour
 * (a CA file, no verification); `undefined` when others are set.
 */
function tlsOptions(env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const unsupported = Object.keys(env).some(
    (key) => key.startsWith("GIT_SSL_") && !GIT_SSL_HONOURED.has(key),
  );
  if (unsupported) return undefined;
  const noVerify = env.GIT_SSL_NO_VERIFY;
  const caFile = env.GIT_SSL_CAINFO;
  let ca: Buffer | undefined;
  if (caFile) {
    ca = caFiles.get(caFile);
    if (!ca) {
      try {
        ca = readFileSync(caFile);
      } catch {
        return undefined;
      }
      caFiles.set(caFile, ca);
    }
  }
  return {
    ...(ca ? { ca } : {}),
    ...(noVerify && noVerify !== "false" && noVerify !== "0" ? { rejectUnauthorized: false } : {}),
  };
}

const GIT_SSL_HONOURED = new Set(["GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY"]);

/** The refs of a protocol v0/v1 upload-pack advertisement (pkt-lines). */
export function parseAdvertisement(body: Buffer): RefMap {
  const refs = new Map<string, string>();
  let offset = 0;
  while (offset + 4 <= body.length) {
    const length = Number.parseInt(body.subarray(offset, offset + 4).toString(), 16);
    if (Number.isNaN(length)) throw new RefListingError("the server sent a malformed ref advertisement");
    if (length < 4) {
      offset += 4; // flush and delimiter packets
      continue;
    }
    const line = body
      .subarray(offset + 4, offset + length)
      .toString()
      .replace(/\n$/, "");
    offset += length;
    if (line.startsWith("#") || line.startsWith("version ")) continue;
    const [ref] = line.split("\0");
    const [sha, name] = (ref ?? "").split(" ");
    if (sha && name && isFullSha(sha) && name !== "capabilities^{}") refs.set(name, sha);
  }
  return refs;
}

// Variables that change how git talks HTTP; with any of them set, git does the talking.
const GIT_HTTP_ENV = /^GIT_(HTTP_|CURL_|TRACE_CURL)/;

function usesProxy(url: URL, env: NodeJS.ProcessEnv): boolean {
  const scheme = url.protocol.slice(0, -1);
  const proxy =
    env[`${scheme}_proxy`] ?? env[`${scheme.toUpperCase()}_PROXY`] ?? env.all_proxy ?? env.ALL_PROXY ?? "";
  if (!proxy) return false;
  const noProxy = (env.no_proxy ?? env.NO_PROXY ?? "")
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  const host = url.hostname.toLowerCase();
  return !noProxy.some(
    (entry) =>
      entry === "*" ||
      host === entry.replace(/^\./, "") ||
      host.endsWith(entry.startsWith(".") ? entry : `.${entry}`),
  );
}

let httpConfig: Promise<boolean> | undefined;

/**
 * Whether git's global or system configuration sets anything that changes an
 * HTTP request (`http.*`, `url.*.insteadOf`). Read once per process: one git
 * process in its lifetime, not one per check, and never waited on synchronously.
 */
function gitHttpConfigSet(env: NodeJS.ProcessEnv): Promise<boolean> {
  httpConfig ??= runGit(["config", "--list", "--includes"], { cwd: "/", env: definedOnly(env) }).then(
    (listing) => listing.split("\n").some((line) => /^(http\.|url\.|core\.gitproxy)/i.test(line)),
    // No global or system configuration (git exits 1 when there is nothing to list).
    () => false,
  );
  return httpConfig;
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
