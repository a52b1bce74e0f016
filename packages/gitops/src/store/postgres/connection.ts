/**
 * Where the PostgreSQL store connects, and how its password is read: from a
 * URL or its parts, with the password from a secret source, never logged.
 */
import type { PoolConfig } from "pg";
import { SpecError } from "../../errors.js";
import { readSecret } from "../../spec/secrets.js";
import type { SecretSource } from "../../spec/spec.js";

/**
 * Where the PostgreSQL store connects: a `postgres://` URL, or its parts with
 * the password read from a secret source. A password inside `url` works too,
 * but then it sits wherever the URL is written; `password: { env }` keeps it out.
 */
export interface PostgresConnection {
  /** `postgres://user@host:port/database?sslmode=disable`; parts given below override it. */
  readonly url?: string;
  readonly host?: string;
  /** @default 5432 */
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  /** The password: a literal, `{ env: NAME }` or `{ file: path }`. */
  readonly password?: SecretSource;
}

/** The resolved connection: what node-postgres is given, and a URL safe to log. */
export interface ResolvedConnection {
  readonly pool: PoolConfig;
  /** The URL without its password, for logs, status and the Pulumi backend. */
  readonly publicUrl: string;
  /** The password, for the engine's `PGPASSWORD`; `undefined` when none is set. */
  readonly password: string | undefined;
}

/** Whether a store option names PostgreSQL. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * Resolves a connection: parses the URL, reads the password from its source.
 * @throws SpecError naming the field (never the password)
 */
export function resolveConnection(connection: string | PostgresConnection): ResolvedConnection {
  const spec = typeof connection === "string" ? { url: connection } : connection;
  let url: URL;
  try {
    url = new URL(spec.url ?? "postgres://localhost");
  } catch {
    throw new SpecError("store", [{ path: "url", message: "must be a postgres:// URL" }]);
  }
  if (!isPostgresUrl(url.href)) {
    throw new SpecError("store", [
      { path: "url", message: `must start with postgres:// or postgresql://, got "${url.protocol}//…"` },
    ]);
  }
  if (spec.host) url.hostname = spec.host;
  if (spec.port !== undefined) url.port = String(spec.port);
  if (spec.database) url.pathname = `/${spec.database}`;
  if (spec.user) url.username = encodeURIComponent(spec.user);
  const password =
    spec.password !== undefined
      ? readSecret(spec.password, "store.password")
      : url.password
        ? decodeURIComponent(url.password)
        : undefined;
  url.password = "";
  const publicUrl = url.href.replace(/^postgresql:/i, "postgres:");
  // node-postgres lets a connection string override a separate password, so
  // the pool gets it inside the URL; that URL stays in the pool's worker.
  const withPassword = new URL(publicUrl);
  if (password !== undefined) withPassword.password = encodeURIComponent(password);
  return { pool: { connectionString: withPassword.href }, publicUrl, password };
}
