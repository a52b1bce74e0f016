// Connection settings of the PostgreSQL store, without a server: what the pool
// gets, what may be shown, and how the config file and options name it. The
// store itself runs against a real server in store.contract.test.ts and
// test/postgres.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../cli/config.js";
import { openStoreOption } from "../../options.js";
import { resolveConnection } from "./store.js";

describe("PostgreSQL connection settings", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    delete process.env.DRIFTLESS_PG_TEST_PASSWORD;
  });

  it("keeps the password out of the URL it shows, and gives it to the pool", () => {
    const resolved = resolveConnection(
      "postgresql://app:s3cr%40t@db.internal:6432/driftless?sslmode=require",
    );
    expect(resolved.publicUrl).toBe("postgres://app@db.internal:6432/driftless?sslmode=require");
    expect(resolved.password).toBe("s3cr@t");
    expect(resolved.pool.connectionString).toBe(
      "postgres://app:s3cr%40t@db.internal:6432/driftless?sslmode=require",
    );
  });

  it("reads the password from the environment or a file, and parts override the URL", () => {
    process.env.DRIFTLESS_PG_TEST_PASSWORD = "from-env";
    const fromEnv = resolveConnection({
      url: "postgres://app@db/one",
      database: "two",
      port: 5433,
      password: { env: "DRIFTLESS_PG_TEST_PASSWORD" },
    });
    expect(fromEnv.publicUrl).toBe("postgres://app@db:5433/two");
    expect(fromEnv.password).toBe("from-env");

    const dir = mkdtempSync(join(tmpdir(), "driftless-pg-"));
    dirs.push(dir);
    writeFileSync(join(dir, "password"), "from-file\n");
    const fromFile = resolveConnection({
      host: "db",
      user: "app",
      password: { file: join(dir, "password") },
    });
    expect(fromFile.publicUrl).toBe("postgres://app@db");
    expect(fromFile.password).toBe("from-file");
    expect(() => resolveConnection({ host: "db", password: { env: "DRIFTLESS_PG_UNSET" } })).toThrow(
      /store\.password: environment variable DRIFTLESS_PG_UNSET is not set/,
    );
  });

  it("refuses a store option that is not a postgres:// URL, without echoing its credentials", async () => {
    await expect(openStoreOption("mysql://root:hunter22@db/x", "/tmp")).rejects.toThrow(
      /`store` must be a store, a postgres:\/\/ URL or \{ url, password \}, got "mysql:\/\/\[redacted\]@db\/x"/,
    );
  });

  it("reads `store` from driftless.yaml, a URL or parts with the password from a secret source", () => {
    const base = "dataDir: ./data\ntargets: []\n";
    expect(parseConfig(`${base}store: postgres://app@db/driftless\n`, "/etc/d/driftless.yaml").store).toBe(
      "postgres://app@db/driftless",
    );
    const parts = parseConfig(
      `${base}store:\n  url: postgres://app@db/driftless\n  password: { file: pg-password }\n`,
      "/etc/d/driftless.yaml",
    );
    expect(parts.store).toEqual({
      url: "postgres://app@db/driftless",
      password: { file: "/etc/d/pg-password" },
    });
    expect(parseConfig(base, "/etc/d/driftless.yaml").store).toBeUndefined();
    let caught: unknown;
    try {
      parseConfig(
        `${base}store:\n  url: postgres://app@db/x\n  password: hunter22\n`,
        "/etc/d/driftless.yaml",
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(
      "driftless.yaml: store must be a postgres:// URL or { url, host, port, database, user, password: { env: NAME } or { file: path } }",
    );
    expect((caught as Error).message).not.toContain("hunter22");
  });
});
