import { join } from "node:path";
import type { DriftlessConfig } from "../config.js";
import { SqliteStore, type TargetStatus } from "../store.js";
import { ago, type CliIO, EXIT, elapsed, table } from "./output.js";

/** Options of `driftless status`. */
export interface StatusCommandOptions {
  readonly json?: boolean;
}

/** Options of `driftless history`. */
export interface HistoryCommandOptions {
  readonly json?: boolean;
  readonly limit: number;
}

// The store is read directly rather than through a Reconciler: opening a
// reconciler marks unfinished runs as interrupted, which would be wrong while
// `driftless serve` is running against the same data directory.
function withStore<T>(config: DriftlessConfig, use: (store: SqliteStore) => T): T {
  const store = new SqliteStore(join(config.dataDir, "driftless.db"));
  try {
    return use(store);
  } finally {
    store.close();
  }
}

function unknownTarget(config: DriftlessConfig, name: string, io: CliIO): number {
  const known = config.targets.map((t) => t.name).join(", ") || "none";
  io.err.write(`unknown target "${name}" in ${config.file} (known: ${known})\n`);
  return EXIT.failed;
}

function condition(status: TargetStatus, type: string): string {
  const found = status.conditions.find((c) => c.type === type);
  return found ? String(found.status) : "-";
}

/** `driftless status [target]`: a table of every target's conditions, or one target's. */
export function statusCommand(
  config: DriftlessConfig,
  name: string | undefined,
  options: StatusCommandOptions,
  io: CliIO,
): number {
  if (name && !config.targets.some((t) => t.name === name)) return unknownTarget(config, name, io);
  const names = name ? [name] : config.targets.map((t) => t.name).sort();
  const statuses = withStore(config, (store) =>
    names.map((n) => store.getStatus(n) ?? { name: n, conditions: [], updatedAt: "" }),
  );
  if (options.json) {
    io.out.write(`${JSON.stringify(name ? statuses[0] : statuses, null, 2)}\n`);
    return EXIT.ok;
  }
  const rows = statuses.map((s) => {
    const ready = s.conditions.find((c) => c.type === "Ready");
    return [
      s.name,
      ready ? String(ready.status) : "unknown",
      ready?.reason ?? "NeverRun",
      s.lastAppliedRevision?.slice(0, 12) ?? "-",
      ago(s.lastAppliedAt),
      condition(s, "Drifted"),
      condition(s, "Suspended") === "true" ? "true" : "false",
      ready && !ready.status ? (ready.message.split("\n")[0] ?? "") : "",
    ];
  });
  io.out.write(
    table(["TARGET", "READY", "REASON", "APPLIED", "APPLIED AT", "DRIFTED", "SUSPENDED", "MESSAGE"], rows),
  );
  return EXIT.ok;
}

/**
 * A target's newest entries from the store, as a table or JSON (`history`,
 * `promotions`).
 */
function listCommand<T>(
  config: DriftlessConfig,
  name: string,
  options: HistoryCommandOptions,
  io: CliIO,
  read: (store: SqliteStore) => T[],
  headers: readonly string[],
  row: (item: T) => string[],
): number {
  if (!config.targets.some((t) => t.name === name)) return unknownTarget(config, name, io);
  const items = withStore(config, read);
  io.out.write(options.json ? `${JSON.stringify(items, null, 2)}\n` : table(headers, items.map(row)));
  return EXIT.ok;
}

/** `driftless history <target>`: the most recent runs, newest first. */
export function historyCommand(
  config: DriftlessConfig,
  name: string,
  options: HistoryCommandOptions,
  io: CliIO,
): number {
  return listCommand(
    config,
    name,
    options,
    io,
    (store) => store.listRuns(name, options.limit),
    ["RUN", "TRIGGER", "RESULT", "REVISION", "STARTED", "DURATION", "CHANGES", "ERROR"],
    (r) => [
      r.id.slice(0, 8),
      r.trigger,
      r.result ?? "running",
      r.revision?.slice(0, 12) ?? "-",
      ago(r.startedAt),
      elapsed(r.startedAt, r.finishedAt),
      r.counts ? `+${r.counts.create} ~${r.counts.update} ±${r.counts.replace} -${r.counts.delete}` : "-",
      (r.error ?? "").split("\n")[0] ?? "",
    ],
  );
}

/** `driftless promotions <target>`: recorded promotions and rollbacks, newest first. */
export function promotionsCommand(
  config: DriftlessConfig,
  name: string,
  options: HistoryCommandOptions,
  io: CliIO,
): number {
  return listCommand(
    config,
    name,
    options,
    io,
    (store) => store.listPromotions(name, options.limit),
    ["AT", "KIND", "FROM", "REVISION", "PREVIOUS", "BY", "REASON"],
    (p) => [
      ago(p.at),
      p.kind,
      p.source,
      p.revision.slice(0, 12),
      p.previousRevision?.slice(0, 12) ?? "-",
      p.by ?? "-",
      p.reason ?? "",
    ],
  );
}
