// The exclusive lock on a data directory: one reconciler (one process) at a
// time, so two never share worktrees, mirrors, plans or a status database
// they would both "recover".
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { DriftlessError } from "../errors.js";

/** The lock file in the data directory; a SQLite database nobody reads. */
export const DATA_DIR_LOCK_FILE = "driftless.lock";
/** Who holds the lock, for the message a second process gets. Informational only. */
const HOLDER_FILE = "driftless.lock.holder";

/** Another reconciler (usually another process) holds the data directory. */
export class DataDirLockedError extends DriftlessError {
  /** The data directory, absolute. */
  readonly dataDir: string;
  constructor(dataDir: string, holder: string | undefined) {
    super(
      `data directory ${dataDir} is in use by another driftless process${holder ? ` (${holder})` : ""}: ` +
        "only one reconciler may use a data directory at a time. Stop that process, or send work to it " +
        "(`POST /targets/<name>/reconcile` when it is `driftless serve`), or give this one its own " +
        "`dataDir`; processes that share a status database (`store: new SqliteStore(path)`) each need their own `dataDir`.",
    );
    this.dataDir = dataDir;
  }
}

/** A held data directory lock. */
export interface DataDirLock {
  /** Releases the lock; idempotent. */
  release(): void;
}

/**
 * Takes the exclusive lock on `dataDir` (created if missing), or throws at once.
 *
 * Why SQLite: its exclusive file lock is an OS lock (fcntl), so it is released
 * when the process dies however it dies — a `kill -9` leaves no stale lock to
 * clean up — and SQLite also refuses a second connection in the same process.
 * better-sqlite3 is already a dependency; a pid file would need liveness checks
 * that pid reuse defeats.
 * @throws DataDirLockedError naming the holder when another reconciler holds it
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, DATA_DIR_LOCK_FILE), { timeout: 0 });
  try {
    // In exclusive locking mode the first write takes the lock until close.
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS lock (id INTEGER PRIMARY KEY); DELETE FROM lock;");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith("SQLITE_BUSY")) {
      throw new DataDirLockedError(dataDir, readHolder(dataDir));
    }
    throw error;
  }
  const holderFile = join(dataDir, HOLDER_FILE);
  const argv = process.argv.slice(1).map((a) => a.split("/").at(-1) ?? a);
  writeFileSync(
    holderFile,
    `pid ${process.pid} on ${hostname()}, \`${argv.join(" ").slice(0, 120)}\`, since ${new Date().toISOString()}\n`,
  );
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      rmSync(holderFile, { force: true });
      db.close();
    },
  };
}

function readHolder(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, HOLDER_FILE), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Files `create` may make in the data directory: the status database and the directory lock. */
const CREATED_FILES = ["driftless.db", "driftless.db-wal", "driftless.db-shm", DATA_DIR_LOCK_FILE];

/** Notes which of those files (and the directory) do not exist yet, to remove them again when `create` fails. */
function newFiles(dataDir: string): { remove(): void } {
  const dirExisted = existsSync(dataDir);
  const missing = CREATED_FILES.filter((f) => !existsSync(join(dataDir, f)));
  return {
    remove() {
      for (const file of missing) rmSync(join(dataDir, file), { force: true });
      if (dirExisted) return;
      try {
        rmdirSync(dataDir);
      } catch {
        // Not empty: something else was put there meanwhile; it stays.
      }
    },
  };
}

/**
 * Takes the lock on `dataDir` for a reconciler being created (see {@link lockDataDir});
 * `undo` releases it and removes the files (and the directory) creation made, for when it fails.
 * @throws DataDirLockedError naming the holder when another reconciler holds it
 */
export function claimDataDir(dataDir: string): { readonly lock: DataDirLock; undo(): void } {
  const created = newFiles(dataDir);
  const lock = lockDataDir(dataDir);
  return {
    lock,
    undo() {
      lock.release();
      created.remove();
    },
  };
}
