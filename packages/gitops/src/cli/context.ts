import { type Logger, pino } from "pino";
import { namedTokens } from "../http/auth/tokens.js";
import { openStoreOption, storePassword } from "../options.js";
import { Reconciler } from "../reconciler.js";
import type { SecretSource } from "../spec/spec.js";
import type { Store } from "../store/store.js";
import type { DriftlessConfig } from "./config.js";

/** The CLI's logger: JSON lines on stderr at `DRIFTLESS_LOG_LEVEL`, or `level` when it is unset. */
export function cliLogger(level: string): Logger {
  return pino({ level: process.env.DRIFTLESS_LOG_LEVEL || level, base: undefined }, pino.destination(2));
}

/**
 * Every secret the server itself holds: API tokens, webhook secrets,
 * notification credentials and the store's password. Runs, previews, replies
 * and notifications mask them all, since a program can print what it finds.
 */
export function serviceSecrets(config: DriftlessConfig): SecretSource[] {
  return [
    ...namedTokens(config.tokens).map((t) => t.secret),
    ...Object.values(config.webhooks).filter((s): s is SecretSource => s !== undefined),
    ...config.notify.map((p) =>
      p.provider === "webhook" ? p.secret : p.provider === "slack" ? p.url : p.token,
    ),
    ...storePassword(config.store),
  ];
}

/**
 * A reconciler for the config's targets, logging to `logger`; with `serve`,
 * sharing them with other replicas when the config has `replicas:`.
 * @param store - an open store to use instead of the config's (closed when the reconciler stops)
 */
export function openReconciler(
  config: DriftlessConfig,
  logger: Logger,
  serve = false,
  store?: Store,
): Promise<Reconciler> {
  const given = store ?? config.store;
  return Reconciler.create({
    dataDir: config.dataDir,
    targets: config.targets,
    discover: config.discover,
    concurrency: config.concurrency,
    installDependencies: config.installDependencies,
    inheritEnv: config.inheritEnv,
    ...(config.cancelGraceMs !== undefined ? { cancelGraceMs: config.cancelGraceMs } : {}),
    secrets: serviceSecrets(config),
    ...(given !== undefined ? { store: given } : {}),
    ...(serve && config.replicas !== undefined ? { replicas: config.replicas } : {}),
    logger,
  });
}

/**
 * The config's store, opened here so the server can use it beside the
 * reconciler (the dashboard keeps logouts in it), and a reconciler serving
 * with it; the reconciler closes the store when it stops. Nothing stays open
 * when the reconciler cannot be created.
 */
export async function openServing(config: DriftlessConfig, logger: Logger): Promise<[Reconciler, Store]> {
  const store = await openStoreOption(config.store, config.dataDir);
  try {
    return [await openReconciler(config, logger, true, store), store];
  } catch (error) {
    await store.close();
    throw error;
  }
}

const TERMINATION_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Calls `handler` on the first SIGINT or SIGTERM and returns the function that
 * stops listening. The engine's processes do not receive these signals (they
 * run in their own session), so the handler decides how runs end.
 */
export function onTermination(handler: (signal: NodeJS.Signals) => void): () => void {
  const dispose = () => {
    for (const name of TERMINATION_SIGNALS) process.off(name, listener);
  };
  const listener = (signal: NodeJS.Signals) => {
    dispose();
    handler(signal);
  };
  for (const name of TERMINATION_SIGNALS) process.on(name, listener);
  return dispose;
}

/** How often `serve` checks that the npm or npx process that started it is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * Calls `handler` once the npm or npx process that started this one is gone.
 * `npx driftless serve` and npm scripts run us as npm's child: on SIGTERM npm
 * exits without waiting for it, and `serve` would run on, re-parented, with
 * nobody left to stop it. Only when npm started the process (its
 * `npm_execpath` or `npm_command` in the environment); under systemd, a
 * container's `exec` or a shell it never fires. Returns the function that stops watching.
 */
export function onNpmParentGone(handler: () => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (!env.npm_execpath && !env.npm_command) return () => undefined;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (isAlive(parent)) return;
    clearInterval(timer);
    handler();
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** An AbortSignal that fires on the first SIGINT or SIGTERM; `dispose` stops listening. */
export function interruptSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = onTermination((name) => controller.abort(new Error(`interrupted by ${name}`)));
  return { signal: controller.signal, dispose };
}
