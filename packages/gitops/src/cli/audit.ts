/**
 * `driftless audit`: the audit log read straight from the store (as `history`
 * does, so it works beside a running `serve`): list and follow entries,
 * verify the hash chain, print the head hash to keep elsewhere.
 */
import type { AuditEntry } from "../store/audit/chain.js";
import { verifyAudit } from "../store/audit/verify.js";
import type { AuditFilter, Store } from "../store/store.js";
import { sleep } from "../util.js";
import type { DriftlessConfig } from "./config.js";
import { interruptSignal } from "./context.js";
import { openStore } from "./inspect.js";
import { type CliIO, EXIT, table } from "./output.js";

/** Options of `driftless audit`. */
export interface AuditCommandOptions extends AuditFilter {
  /** How many of the newest matching entries are printed first. */
  readonly limit: number;
  /** Keep printing entries as they are appended, until Ctrl-C. */
  readonly follow?: boolean;
  readonly json?: boolean;
  /** How often `follow` reads the store, in milliseconds. @default 1000 */
  readonly pollMs?: number;
}

/** Options of `driftless audit verify`. */
export interface AuditVerifyOptions {
  /** A head hash printed earlier by `driftless audit head`: the log must still contain it. */
  readonly head?: string;
  readonly json?: boolean;
}

const HEADERS = ["ID", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "SOURCE", "DETAIL"];

const row = (e: AuditEntry): string[] => [
  String(e.id),
  e.time,
  e.actor ?? "-",
  e.action,
  e.target ?? "-",
  `${e.outcome} ${e.status}`,
  e.source ?? "-",
  (e.detail ?? "").split("\n")[0] ?? "",
];

/** `use` on the config's store, closed after; `undefined` when there is no store yet. */
async function withAuditStore(
  config: DriftlessConfig,
  use: (store: Store) => Promise<number>,
): Promise<number | undefined> {
  const store = await openStore(config);
  if (!store) return undefined;
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** A `--since` value as ISO 8601, or why it is refused. */
export function sinceArg(value: string): string | Error {
  const time = new Date(value);
  return Number.isNaN(time.getTime())
    ? new Error(`--since must be a time such as 2026-01-31T12:00:00Z, got "${value}"`)
    : time.toISOString();
}

/**
 * `driftless audit [--target] [--actor] [--since] [--follow]`: the newest
 * matching entries, oldest of them first; with `--follow`, then every new
 * matching entry as it is appended (the store is read every `pollMs`, one
 * query a poll, asleep in between) until Ctrl-C.
 */
export async function auditCommand(
  config: DriftlessConfig,
  options: AuditCommandOptions,
  io: CliIO,
): Promise<number> {
  const filter: AuditFilter = {
    ...(options.target !== undefined ? { target: options.target } : {}),
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
  };
  const print = (entries: readonly AuditEntry[], header: boolean) => {
    if (options.json) for (const e of entries) io.out.write(`${JSON.stringify(e)}\n`);
    else if (entries.length > 0 || header) {
      const text = table(HEADERS, entries.map(row));
      io.out.write(header ? text : text.slice(text.indexOf("\n") + 1));
    }
  };
  const code = await withAuditStore(config, async (store) => {
    const newest = (await store.listAudit({ ...filter, limit: options.limit })).reverse();
    print(newest, true);
    if (!options.follow) return EXIT.ok;
    const interrupt = interruptSignal();
    try {
      let last = newest.at(-1)?.id ?? (await store.auditHead())?.id ?? 0;
      while (!interrupt.signal.aborted) {
        try {
          await sleep(options.pollMs ?? 1000, interrupt.signal);
        } catch {
          break;
        }
        const page = await store.readAudit(last, 1000, filter);
        print(page, false);
        last = page.at(-1)?.id ?? last;
      }
      return EXIT.ok;
    } finally {
      interrupt.dispose();
    }
  });
  if (code === undefined) {
    io.err.write(`no audit log yet: ${config.dataDir} holds no store\n`);
    return options.follow ? EXIT.failed : EXIT.ok;
  }
  return code;
}

/**
 * `driftless audit verify [--head <hash>]`: walks the chain; exit 0 when every
 * entry follows from the one before (and the head, when given, is still in
 * it), else exit 1 naming the first bad entry's id and time.
 */
export async function auditVerifyCommand(
  config: DriftlessConfig,
  options: AuditVerifyOptions,
  io: CliIO,
): Promise<number> {
  const result = await withAuditStore(config, async (store) => {
    const verified = await verifyAudit(store, options.head !== undefined ? { head: options.head } : {});
    if (options.json) io.out.write(`${JSON.stringify(verified, null, 2)}\n`);
    if (verified.ok) {
      io.err.write(
        verified.head
          ? `audit log verified: ${verified.entries} entries, head ${verified.head.hash} (entry ${verified.head.id} at ${verified.head.time})\n`
          : "audit log verified: it is empty\n",
      );
      return EXIT.ok;
    }
    const { broken } = verified;
    io.err.write(
      `audit log broken at entry ${broken.id} (${broken.time || "no time"}): ${broken.problem}: ${broken.message}\n`,
    );
    return EXIT.failed;
  });
  if (result !== undefined) return result;
  if (options.head !== undefined) {
    io.err.write(
      `audit log broken: the head ${options.head} is not in the log: ${config.dataDir} holds no store\n`,
    );
    return EXIT.failed;
  }
  io.err.write(`audit log verified: no store in ${config.dataDir} yet\n`);
  return EXIT.ok;
}

/**
 * `driftless audit head`: the newest entry's hash on stdout (its id and time
 * on stderr), to keep outside the store so `verify --head` can tell that
 * entries were removed from the end of the log.
 */
export async function auditHeadCommand(config: DriftlessConfig, io: CliIO): Promise<number> {
  const code = await withAuditStore(config, async (store) => {
    const head = await store.auditHead();
    if (!head) {
      io.err.write("the audit log is empty\n");
      return EXIT.failed;
    }
    io.out.write(`${head.hash}\n`);
    io.err.write(`entry ${head.id} at ${head.time}\n`);
    return EXIT.ok;
  });
  if (code !== undefined) return code;
  io.err.write(`no audit log yet: ${config.dataDir} holds no store\n`);
  return EXIT.failed;
}
