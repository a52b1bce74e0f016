import { type Logger, pino } from "pino";
import type { DriftlessConfig } from "../config.js";
import { Reconciler } from "../reconciler.js";

/** The CLI's logger: JSON lines on stderr at `DRIFTLESS_LOG_LEVEL`, or `level` when it is unset. */
export function cliLogger(level: string): Logger {
  return pino({ level: process.env.DRIFTLESS_LOG_LEVEL ?? level, base: undefined }, pino.destination(2));
}

/** A reconciler for the config's targets, logging to `logger`. */
export function openReconciler(config: DriftlessConfig, logger: Logger): Promise<Reconciler> {
  return Reconciler.create({
    dataDir: config.dataDir,
    targets: config.targets,
    discover: config.discover,
    concurrency: config.concurrency,
    installDependencies: config.installDependencies,
    logger,
  });
}

const TERMINATION_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Calls `handler` on the first SIGINT or SIGTERM and returns the function that
 * stops listening. Register it before any engine process starts.
 *
 * Why the foreign listeners are removed: the Automation API spawns the CLI
 * through execa, whose `signal-exit` re-raises a signal and kills the process
 * when it believes no one else listens — which it decides by counting
 * listeners, and can get wrong while several engine processes run. That would
 * kill the engine mid-update and leave the stack locked. Once shutdown has
 * begun, this process owns its signals; execa's exit-time cleanup still runs.
 */
export function onTermination(handler: (signal: NodeJS.Signals) => void): () => void {
  const listener = (signal: NodeJS.Signals) => {
    for (const name of TERMINATION_SIGNALS) process.removeAllListeners(name);
    handler(signal);
  };
  for (const name of TERMINATION_SIGNALS) process.once(name, listener);
  return () => {
    for (const name of TERMINATION_SIGNALS) process.off(name, listener);
  };
}

/** An AbortSignal that fires on the first SIGINT or SIGTERM; `dispose` stops listening. */
export function interruptSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = onTermination((name) => controller.abort(new Error(`interrupted by ${name}`)));
  return { signal: controller.signal, dispose };
}
