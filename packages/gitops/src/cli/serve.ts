import type { DriftlessConfig } from "../config.js";
import { listen } from "../http/server.js";
import { onTermination, openReconciler } from "./context.js";
import { type CliIO, EXIT } from "./output.js";

/** Options of `driftless serve`. */
export interface ServeCommandOptions {
  /** Overrides the config's `listen`. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Overrides the config's `shutdownGrace`. */
  readonly graceMs?: number;
}

/** Extra time after the grace period for cancelled runs to release their stacks before giving up. */
const CANCEL_TIMEOUT_MS = 60_000;

/**
 * `driftless serve`: the reconciler with its HTTP API until SIGTERM or SIGINT,
 * then a graceful shutdown. Resolves the exit code: 0 when every run finished
 * on its own, 3 when runs had to be cancelled.
 */
export async function serveCommand(
  config: DriftlessConfig,
  options: ServeCommandOptions,
  io: CliIO,
): Promise<number> {
  // Listening starts before anything can spawn the engine (see onTermination).
  const terminated = new Promise<NodeJS.Signals>((resolve) => onTermination(resolve));
  const reconciler = await openReconciler(config, "info");
  const address = options.listen ?? config.listen;
  const graceMs = options.graceMs ?? config.shutdownGraceMs;
  let server: Awaited<ReturnType<typeof listen>>;
  try {
    server = await listen(reconciler, {
      host: address.host,
      port: address.port,
      tokens: config.tokens,
      webhooks: config.webhooks,
      publicReads: config.publicReads,
      maxBodyBytes: config.maxBodyBytes,
    });
  } catch (error) {
    await reconciler.stop({ graceMs: 0 });
    throw error;
  }
  reconciler.start();
  io.err.write(
    `driftless listening on ${server.url} (${config.targets.length} target(s), data in ${config.dataDir})\n`,
  );

  const signal = await terminated;
  io.err.write(`${signal}: shutting down, runs in progress get ${Math.round(graceMs / 1000)}s to finish\n`);
  const repeat = () => io.err.write("already shutting down; waiting for runs to be cancelled cleanly\n");
  // Added after this signal's dispatch, so a foreign listener still running in it counts none of ours.
  setImmediate(() => {
    process.on("SIGTERM", repeat);
    process.on("SIGINT", repeat);
  });
  // A run the engine cannot cancel must not keep the process forever; the next
  // start finds the unfinished run and recovers its stack.
  const deadline = setTimeout(() => {
    io.err.write("shutdown timed out; exiting with runs unfinished\n");
    process.exit(EXIT.cancelled);
  }, graceMs + CANCEL_TIMEOUT_MS);
  deadline.unref();
  const clean = await server.shutdown({ graceMs });
  clearTimeout(deadline);
  io.err.write(clean ? "stopped cleanly\n" : "stopped; runs in progress were cancelled\n");
  return clean ? EXIT.ok : EXIT.cancelled;
}
