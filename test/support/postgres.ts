import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ADDRESS_IN_USE, freePort } from "./ports.js";

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server: a cluster made by `initdb` in a temp
 * directory, listening on a free loopback port. TCP connections need the
 * password of user `postgres` ({@link password}), so tests prove it reaches
 * every client.
 * Start to ready takes about two seconds; `dispose` stops it and removes it.
 */
export interface PostgresCluster {
  readonly port: number;
  readonly dir: string;
  /** The password of user `postgres`. */
  readonly password: string;
  /** A connection URL for a database of this cluster, as user `postgres`, with the password unless told otherwise. */
  url(database?: string, withPassword?: boolean): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL with psql against a database (for checks the code under test does not offer). */
  psql(sql: string, database?: string): Promise<string>;
  /** Stops the server (fast shutdown: connections are closed) until {@link start}. */
  stop(): Promise<void>;
  /** Starts a stopped server again on the same port. */
  start(): Promise<void>;
  /**
   * Freezes every process of the server (SIGSTOP): connections stay open and
   * nothing answers, as in a network partition, until {@link resume}.
   */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

/** The server binaries: `DRIFTLESS_PG_BIN`, else the newest Debian install (scripts/bootstrap-postgres.sh). */
export function postgresBin(): string {
  const configured = process.env.DRIFTLESS_PG_BIN;
  if (configured) return configured;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) {
    throw new Error(
      "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: run scripts/bootstrap-postgres.sh (or set DRIFTLESS_PG_BIN)",
    );
  }
  return join(root, versions[0], "bin");
}

/** PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` system user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root, and there is no `postgres` system user to run the server as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

const live = new Set<{ bin: string; data: string; dir: string; as: ReturnType<typeof serverUser> }>();
// A test process that exits without disposing (a failed hook) leaves no server running.
process.once("exit", () => {
  for (const c of live) {
    spawnSync(join(c.bin, "pg_ctl"), ["-D", c.data, "-m", "immediate", "stop"], {
      stdio: "ignore",
      ...(c.as ?? {}),
    });
    rmSync(c.dir, { recursive: true, force: true });
  }
});

let databases = 0;

/** Starts a throwaway cluster (see {@link PostgresCluster}). */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBin();
  const as = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "driftless-pg-"));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, "data");
  let port = await freePort();
  const asServer = { ...(as ?? {}), cwd: dir, env: { ...process.env, LC_ALL: "C" } };
  const entry = { bin, data, dir, as };
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`);
  if (as) chownSync(pwfile, as.uid, as.gid);
  await run(
    join(bin, "initdb"),
    [
      "-D",
      data,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ],
    asServer,
  );
  rmSync(pwfile);
  // Durability is not what these tests are about: no fsync keeps start and writes fast.
  const serverOptions = () =>
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  const serverLog = join(dir, "server.log");
  const start = async () => {
    const logged = existsSync(serverLog) ? readFileSync(serverLog, "utf8").length : 0;
    try {
      await run(
        join(bin, "pg_ctl"),
        ["-D", data, "-l", serverLog, "-w", "-t", "60", "-o", serverOptions(), "start"],
        asServer,
      );
    } catch (error) {
      // pg_ctl only says "Examine the log output": the server's own words are in its log.
      const log = existsSync(serverLog) ? readFileSync(serverLog, "utf8").slice(logged).slice(-2000) : "";
      throw new Error(`${(error as Error).message.trim()}\n--- ${serverLog}\n${log}`);
    }
  };
  const stop = async () => {
    await run(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"], asServer);
  };
  live.add(entry);
  try {
    // On a new port when the first was taken before the server bound it (see ports.ts).
    for (let attempt = 1; ; attempt++) {
      try {
        await start();
        break;
      } catch (error) {
        if (attempt >= 3 || !ADDRESS_IN_USE.test((error as Error).message)) throw error;
        port = await freePort();
      }
    }
  } catch (error) {
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  /** The postmaster and its children, from the pid file and /proc. */
  const processes = (): number[] => {
    const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          // The parent pid is the 4th field, after the command name in parentheses.
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  };
  let paused: number[] = [];
  const pause = () => {
    paused = processes();
    for (const pid of paused) process.kill(pid, "SIGSTOP");
  };
  const resume = () => {
    for (const pid of paused.reverse()) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // Gone meanwhile.
      }
    }
    paused = [];
  };
  const url = (database = "postgres", withPassword = true) =>
    `postgres://postgres${withPassword ? `:${password}` : ""}@127.0.0.1:${port}/${database}?sslmode=disable`;
  const psql = async (sql: string, database = "postgres") =>
    (
      await run(join(bin, "psql"), [
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
        url(database),
      ])
    ).stdout.trim();
  return {
    port,
    dir,
    password,
    url,
    psql,
    async createDatabase(name = `t${process.pid}_${++databases}`) {
      await psql(`CREATE DATABASE "${name}"`);
      return url(name);
    },
    stop,
    start,
    pause,
    resume,
    async dispose() {
      if (!live.delete(entry)) return;
      resume();
      await run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], asServer).catch(
        () => undefined,
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
