import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStoreOption } from "../options.js";
import { reviewTargetName } from "../pipelines/reviewStacks.js";
import { resourceTree, syncCounts } from "../run/inventory.js";
import { SqliteStore } from "../store/sqlite/store.js";
import type {
  ResourceEntry,
  ResourceHistoryEntry,
  ResourceNode,
  Store,
  TargetInventory,
  TargetStatus,
} from "../store/store.js";
import type { DriftlessConfig } from "./config.js";
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
// `driftless serve` is running against the same data directory. Without a
// database nothing ran yet, and a read must not create the data directory.
/** The config's store opened directly (see above), `undefined` when none exists yet; the caller closes it. */
export async function openStore(config: DriftlessConfig): Promise<Store | undefined> {
  if (config.store !== undefined) return openStoreOption(config.store, config.dataDir);
  const file = join(config.dataDir, "driftless.db");
  return existsSync(file) ? new SqliteStore(file) : undefined;
}

async function withStore<T>(
  config: DriftlessConfig,
  use: (store: Store | undefined) => Promise<T>,
): Promise<T> {
  const store = await openStore(config);
  if (!store) return use(undefined);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/**
 * The targets a command can name: the config's, and those `paths:` entries
 * expanded into (`<entry>-<directory>`), as far as the store knows them.
 * Discovery itself needs the repository, which a read should not fetch.
 */
export async function knownTargets(config: DriftlessConfig, store: Store | undefined): Promise<string[]> {
  const names = new Set(config.targets.map((t) => t.name));
  for (const status of (await store?.listStatuses()) ?? []) {
    if (config.discover.some((d) => status.name.startsWith(`${d.name}-`))) names.add(status.name);
  }
  // Review stacks run as targets of their own (`<target>-pr-<number>`), listed right after their target.
  for (const r of (await store?.reviewStacks.listReviewStacks()) ?? [])
    names.add(reviewTargetName(r.target, r.number));
  return [...names].sort();
}

function unknownTarget(config: DriftlessConfig, name: string, known: readonly string[], io: CliIO): number {
  const discovered = config.discover.length
    ? ` and targets discovered from ${config.discover.map((d) => `"${d.name}"`).join(", ")} once they ran`
    : "";
  io.err.write(
    `unknown target "${name}" in ${config.file} (known: ${known.join(", ") || "none"}${discovered})\n`,
  );
  return EXIT.failed;
}

/** A condition's status in a table cell: `true`, `false`, `unknown` (not checked), or `-` when absent. */
function condition(status: TargetStatus, type: string): string {
  const found = status.conditions.find((c) => c.type === type);
  return found ? String(found.status).toLowerCase() : "-";
}

/** `driftless status [target]`: a table of every target's conditions, or one target's. */
export async function statusCommand(
  config: DriftlessConfig,
  name: string | undefined,
  options: StatusCommandOptions,
  io: CliIO,
): Promise<number> {
  const found = await withStore(
    config,
    async (store): Promise<{ known: string[] } | { statuses: TargetStatus[] }> => {
      const known = await knownTargets(config, store);
      if (name && !known.includes(name)) return { known };
      // With replicas, who owns each target comes from its lease.
      const owners = new Map(((await store?.listTargetLeases()) ?? []).map((l) => [l.target, l.owner]));
      const stored = new Map(((await store?.listStatuses()) ?? []).map((s) => [s.name, s]));
      for (const r of (await store?.reviewStacks.listReviewStacks()) ?? []) {
        const n = reviewTargetName(r.target, r.number);
        // A waiting review stack has no target yet, a stalled one's destroy keeps failing: the record says so.
        if (r.state === "waiting" || r.state === "stalled" || !stored.has(n)) {
          const reason = r.state === "stalled" ? "Stalled" : r.state === "waiting" ? "Waiting" : "NeverRun";
          const message = r.error ?? `review stack ${r.stack} of pull request #${r.number}: ${r.state}`;
          const since = r.updatedAt;
          stored.set(n, {
            name: n,
            conditions: [{ type: "Ready", status: false, reason, message, since }],
            updatedAt: since,
          });
        }
      }
      return {
        statuses: (name ? [name] : known).map((n): TargetStatus => {
          const status = stored.get(n) ?? { name: n, conditions: [], updatedAt: "" };
          const owner = owners.get(n);
          return owner ? { ...status, owner } : status;
        }),
      };
    },
  );
  if ("known" in found) return unknownTarget(config, name ?? "", found.known, io);
  const { statuses } = found;
  if (options.json) {
    io.out.write(`${JSON.stringify(name ? statuses[0] : statuses, null, 2)}\n`);
    return EXIT.ok;
  }
  const replicas = statuses.some((s) => s.owner);
  const rows = statuses.map((s) => {
    const ready = s.conditions.find((c) => c.type === "Ready");
    const owner = s.owner ? [s.owner.replace(/:[^:]+$/, "")] : replicas ? ["-"] : [];
    return [
      s.name,
      ...owner,
      ready ? String(ready.status) : "unknown",
      ready?.reason ?? "NeverRun",
      s.lastAppliedRevision?.slice(0, 12) ?? "-",
      ago(s.lastAppliedAt),
      condition(s, "Drifted"),
      condition(s, "Suspended") === "true" ? "true" : "false",
      ready && ready.status !== true ? (ready.message.split("\n")[0] ?? "") : "",
    ];
  });
  io.out.write(
    table(
      [
        "TARGET",
        ...(replicas ? ["OWNER"] : []),
        "READY",
        "REASON",
        "APPLIED",
        "APPLIED AT",
        "DRIFTED",
        "SUSPENDED",
        "MESSAGE",
      ],
      rows,
    ),
  );
  return EXIT.ok;
}

/**
 * A target's newest entries from the store, as a table or JSON (`history`,
 * `promotions`).
 */
async function listCommand<T>(
  config: DriftlessConfig,
  name: string,
  options: HistoryCommandOptions,
  io: CliIO,
  read: (store: Store) => Promise<T[]>,
  headers: readonly string[],
  row: (item: T) => string[],
): Promise<number> {
  const found = await withStore(config, async (store): Promise<{ known: string[] } | { items: T[] }> => {
    const known = await knownTargets(config, store);
    return known.includes(name) ? { items: store ? await read(store) : [] } : { known };
  });
  if ("known" in found) return unknownTarget(config, name, found.known, io);
  const { items } = found;
  io.out.write(options.json ? `${JSON.stringify(items, null, 2)}\n` : table(headers, items.map(row)));
  return EXIT.ok;
}

/** `driftless history <target>`: the most recent runs, newest first. */
export function historyCommand(
  config: DriftlessConfig,
  name: string,
  options: HistoryCommandOptions,
  io: CliIO,
): Promise<number> {
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
): Promise<number> {
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

/** Options of `driftless resources`. */
export interface ResourcesCommandOptions {
  readonly json?: boolean;
  /** Children indented under their parents (with `json`: nested in `children`). */
  readonly tree?: boolean;
  /** One resource's history (its URN) instead of the inventory. */
  readonly history?: string;
}

/**
 * `driftless resources <target>`: what the target's stack manages, as of the
 * last run that reached the engine: each resource's sync state, health, the
 * run that last changed it and what is out of sync.
 */
export async function resourcesCommand(
  config: DriftlessConfig,
  name: string,
  options: ResourcesCommandOptions,
  io: CliIO,
): Promise<number> {
  const found = await withStore(
    config,
    async (
      store,
    ): Promise<
      { known: string[] } | { inventory: TargetInventory | undefined; history?: ResourceHistoryEntry[] }
    > => {
      const known = await knownTargets(config, store);
      if (!known.includes(name)) return { known };
      if (options.history !== undefined)
        return { inventory: undefined, history: (await store?.resourceHistory(name, options.history)) ?? [] };
      return { inventory: await store?.getInventory(name) };
    },
  );
  if ("known" in found) return unknownTarget(config, name, found.known, io);
  if (found.history && options.history !== undefined)
    return historyOf(name, options.history, found.history, options.json ?? false, io);
  const inventory = found.inventory ?? { target: name, resources: [] };
  const { resources, ...rest } = inventory;
  if (options.json) {
    const listed = options.tree ? resourceTree(resources) : resources;
    io.out.write(
      `${JSON.stringify({ ...rest, counts: syncCounts(resources), resources: listed }, null, 2)}\n`,
    );
    return EXIT.ok;
  }
  if (!found.inventory) {
    io.err.write(`no inventory for "${name}" yet: it is read after a run that reaches the engine\n`);
    return EXIT.ok;
  }
  const rows: string[][] = [];
  const row = (r: ResourceEntry, depth: number) =>
    rows.push([
      `${"  ".repeat(depth)}${r.name}`,
      r.kubernetes
        ? `${r.kubernetes.kind}${r.kubernetes.namespace ? ` ${r.kubernetes.namespace}/` : " "}${r.kubernetes.name}`
        : r.type,
      r.sync,
      r.health.status,
      changedBy(r),
      resourceDetail(r),
    ]);
  const visit = (nodes: readonly ResourceNode[], depth: number): void => {
    for (const node of nodes) {
      row(node, depth);
      visit(node.children, depth + 1);
    }
  };
  if (options.tree) visit(resourceTree(resources), 0);
  else for (const r of resources) row(r, 0);
  io.out.write(table(["RESOURCE", "TYPE", "SYNC", "HEALTH", "CHANGED BY", "DETAIL"], rows));
  const counts = syncCounts(resources);
  io.err.write(
    `${resources.length} resource(s) after run ${found.inventory.runId.slice(0, 8)} (${ago(found.inventory.at)}): ` +
      `${counts.synced} synced, ${counts.drifted} drifted, ${counts.pending} pending, ${counts.failed} failed\n`,
  );
  return EXIT.ok;
}

/** `driftless resources <target> --history <urn>`: the runs that changed one resource, newest first. */
function historyOf(
  name: string,
  urn: string,
  entries: readonly ResourceHistoryEntry[],
  json: boolean,
  io: CliIO,
): number {
  if (json) {
    io.out.write(`${JSON.stringify({ target: name, urn, entries }, null, 2)}\n`);
    return EXIT.ok;
  }
  const rows = entries.map((e) => [
    ago(e.at),
    e.runId.slice(0, 8),
    e.revision?.slice(0, 12) ?? "-",
    e.op,
    e.paths.join(", ") || "-",
  ]);
  io.out.write(table(["AT", "RUN", "REVISION", "OP", "PROPERTIES"], rows));
  if (entries.length === 0) io.err.write(`no recorded run changed ${urn}\n`);
  return EXIT.ok;
}

/** The run (and its revision) that last changed a resource, else the commit its provenance names. */
function changedBy(r: ResourceEntry): string {
  if (r.lastChange)
    return `${r.lastChange.runId.slice(0, 8)} ${r.lastChange.revision?.slice(0, 12) ?? ""}`.trim();
  return r.commit ? `commit ${r.commit.slice(0, 12)}` : "-";
}

/** What a table row says beyond its state: drifted paths, a pending operation, the error, or the health's reason. */
function resourceDetail(r: ResourceEntry): string {
  if (r.sync === "drifted") return r.driftPaths ? `changed: ${r.driftPaths.join(", ")}` : "changed";
  if (r.sync === "pending") return `would ${r.pendingOp ?? "change"}`;
  if (r.sync === "failed") return (r.error ?? "").split("\n")[0] ?? "";
  return r.health.reason;
}
