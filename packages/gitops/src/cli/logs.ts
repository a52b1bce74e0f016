import { followRunLog } from "../store/runLog.js";
import type { Store } from "../store/store.js";
import type { RunRecord } from "../types.js";
import type { DriftlessConfig } from "./config.js";
import { interruptSignal } from "./context.js";
import { knownTargets, openStore } from "./inspect.js";
import { type CliIO, EXIT } from "./output.js";

/** Options of `driftless logs`. */
export interface LogsCommandOptions {
  /** Keep printing lines as the run writes them, until it ends (or Ctrl-C). */
  readonly follow?: boolean;
}

/**
 * The run a `logs` argument names: a run id, a prefix of one as `history`
 * prints it, or a target's name for its newest run. An error message when
 * none or several match.
 */
async function findRun(config: DriftlessConfig, store: Store, arg: string): Promise<RunRecord | string> {
  const exact = await store.getRun(arg);
  if (exact) return exact;
  const names = await knownTargets(config, store);
  if (names.includes(arg)) return (await store.listRuns(arg, 1))[0] ?? `target "${arg}" has no runs yet`;
  const matches: RunRecord[] = [];
  for (const name of names) {
    matches.push(...(await store.listRuns(name, 1000)).filter((r) => r.id.startsWith(arg)));
  }
  if (matches.length === 1) return matches[0] as RunRecord;
  return matches.length === 0
    ? `no run "${arg}" in ${config.dataDir} (give a run id as \`driftless history\` prints it, or a target name)`
    : `run "${arg}" is ambiguous: ${matches.map((r) => r.id).join(", ")}`;
}

/**
 * `driftless logs <run> [--follow]`: a run's log from the store, as written so
 * far; with `--follow`, new lines as the run writes them until it ends. The
 * store is read directly, so this works beside a running `driftless serve`.
 */
export async function logsCommand(
  config: DriftlessConfig,
  arg: string,
  options: LogsCommandOptions,
  io: CliIO,
): Promise<number> {
  const store = await openStore(config);
  if (!store) {
    io.err.write(`no runs yet: ${config.dataDir} holds no store\n`);
    return EXIT.failed;
  }
  const interrupt = options.follow ? interruptSignal() : undefined;
  try {
    const run = await findRun(config, store, arg);
    if (typeof run === "string") {
      io.err.write(`${run}\n`);
      return EXIT.failed;
    }
    if (!options.follow) {
      io.out.write((await store.readLog(run.id)).text);
      return EXIT.ok;
    }
    for await (const chunk of followRunLog(store, run.id, {
      ...(interrupt ? { signal: interrupt.signal } : {}),
    })) {
      io.out.write(chunk.text);
    }
    if (interrupt?.signal.aborted) return EXIT.ok;
    const result = (await store.getRun(run.id))?.result ?? "unknown";
    io.err.write(`run ${run.id} ${result}\n`);
    return EXIT.ok;
  } finally {
    interrupt?.dispose();
    await store.close();
  }
}
