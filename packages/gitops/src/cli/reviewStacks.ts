// `driftless review-stacks [--prune]`: the review stacks the store records, with age and state;
// `--prune` destroys those whose pull request is closed on the Git host.
import { ReviewStacks } from "../http/reviewStacks/manager.js";
import { Notifier } from "../notify/notifier.js";
import type { ReviewStackRecord } from "../store/store.js";
import type { DriftlessConfig } from "./config.js";
import { cliLogger, openServing } from "./context.js";
import { openStore } from "./inspect.js";
import { ago, type CliIO, EXIT, table } from "./output.js";

/** Options of `driftless review-stacks`. */
export interface ReviewStacksCommandOptions {
  /** Destroy the review stacks whose pull request is closed (asks the Git hosts in `notify`). */
  readonly prune?: boolean;
  readonly json?: boolean;
}

/** Lists the recorded review stacks; with `prune`, first destroys those whose pull request closed. */
export async function reviewStacksCommand(
  config: DriftlessConfig,
  options: ReviewStacksCommandOptions,
  io: CliIO,
): Promise<number> {
  let pruned: string[] = [];
  if (options.prune) {
    const result = await prune(config, io);
    if (typeof result === "number") return result;
    pruned = result;
  }
  const store = await openStore(config);
  let records: ReviewStackRecord[];
  try {
    records = (await store?.reviewStacks.listReviewStacks()) ?? [];
  } finally {
    await store?.close();
  }
  if (options.json) {
    io.out.write(`${JSON.stringify(options.prune ? { pruned, reviewStacks: records } : records, null, 2)}\n`);
    return EXIT.ok;
  }
  for (const p of pruned) io.err.write(`pruned ${p}: its pull request is closed\n`);
  const rows = records.map((r) => [
    r.target,
    `#${r.number}`,
    r.stack,
    r.state === "stalled" ? "Stalled" : r.state,
    r.headSha.slice(0, 12),
    ago(r.createdAt),
    ago(r.lastPushAt),
    (r.error ?? "").split("\n")[0] ?? "",
  ]);
  io.out.write(table(["TARGET", "PR", "STACK", "STATE", "HEAD", "AGE", "LAST PUSH", "ERROR"], rows));
  return EXIT.ok;
}

/** Opens the reconciler (no server may hold the data directory) and destroys the closed pull requests' stacks. */
async function prune(config: DriftlessConfig, io: CliIO): Promise<string[] | number> {
  const logger = cliLogger("warn");
  const [reconciler, store] = await openServing(config, logger);
  const notifier = Notifier.create({ providers: config.notify }).follow(reconciler);
  try {
    if (notifier.hosts.length === 0) {
      io.err.write(
        "review-stacks --prune needs a Git host in `notify` (github or gitea) to ask about pull requests\n",
      );
      return EXIT.usage;
    }
    const reviewStacks = new ReviewStacks(reconciler, notifier, { audit: store, logger });
    const pruned = await reviewStacks.prune();
    await reviewStacks.whenIdle();
    reviewStacks.close();
    await notifier.whenIdle();
    return pruned;
  } finally {
    notifier.close();
    await reconciler.stop({ graceMs: 0 });
    await store.close();
  }
}
