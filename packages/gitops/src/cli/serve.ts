import { isAnonymous, namedTokens, type TokenOption } from "../http/auth/tokens.js";
import { ReconcilerMetrics } from "../http/metrics.js";
import { PullRequestPreviews } from "../http/pulls.js";
import { ReviewStacks } from "../http/reviewStacks/manager.js";
import { listen } from "../http/server.js";
import { Notifier } from "../notify/notifier.js";
import { readSecret, SecretUnavailableError } from "../spec/secrets.js";
import type { DriftlessConfig } from "./config.js";
import { cliLogger, onNpmParentGone, onTermination, openServing } from "./context.js";
import { type CliIO, EXIT } from "./output.js";

/** Options of `driftless serve`. */
export interface ServeCommandOptions {
  /** Overrides the config's `listen`. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Overrides the config's `shutdownGrace`. */
  readonly graceMs?: number;
}

/** How long queued statuses and notifications may still go out after the reconciler stopped. */
const FLUSH_MS = 5000;

/** Extra time after the grace period for cancelled runs to release their stacks before giving up. */
const CANCEL_TIMEOUT_MS = 60_000;

/**
 * Every configured API token and webhook secret that cannot be read now, one
 * line each naming its key and source (never a value). A server started with
 * them would answer every request 401 and log nothing.
 */
export function unusableSecrets(config: DriftlessConfig): string[] {
  const sources = [
    ...namedTokens(config.tokens).map((t, i) => [`tokens[${i}]`, t.secret] as const),
    ...Object.entries(config.webhooks).flatMap(([provider, source]) =>
      source ? [[`webhooks.${provider}`, source] as const] : [],
    ),
    ...(config.auth.oidc ? [["auth.oidc.clientSecret", config.auth.oidc.clientSecret] as const] : []),
    ...config.notify.map(
      (p, i) =>
        [
          `notify[${i}]`,
          p.provider === "webhook" ? p.secret : p.provider === "slack" ? p.url : p.token,
        ] as const,
    ),
  ];
  return sources.flatMap(([key, source]) => {
    try {
      readSecret(source, key);
      return [];
    } catch (error) {
      if (error instanceof SecretUnavailableError) return [error.message];
      throw error;
    }
  });
}

/**
 * `driftless serve`: the reconciler with its HTTP API until SIGTERM or SIGINT,
 * then a graceful shutdown. Resolves the exit code: 0 when every run finished
 * on its own, 3 when runs had to be cancelled, 1 without starting when a
 * configured token or webhook secret cannot be read. Without any token it
 * starts with a warning: the control API is then closed.
 */
export async function serveCommand(
  config: DriftlessConfig,
  options: ServeCommandOptions,
  io: CliIO,
): Promise<number> {
  const unusable = unusableSecrets(config);
  if (unusable.length > 0) {
    io.err.write(
      `driftless serve: refusing to start: ${unusable.length === 1 ? "a secret" : "secrets"} configured in ${config.file} cannot be read:\n` +
        unusable.map((line) => `  ${line}\n`).join("") +
        "Set the variable (or write the file) in this process's environment, or remove the entry from the config.\n",
    );
    return EXIT.failed;
  }
  if (config.tokens.length === 0) {
    io.err.write(
      `WARNING: no API token is configured (\`tokens\` in ${config.file}): every control request ` +
        `(reconcile, suspend, approve, promote) is refused with 401${config.publicReads ? "" : ", and so is every read (status, runs)"}; ` +
        "only webhooks, probes and metrics work. Add `tokens: [{ name: ops, env: DRIFTLESS_TOKEN, roles: [admin] }]` to use the API.\n",
    );
  }
  const anonymous = namedTokens(config.tokens).filter((_, i) => isAnonymous(config.tokens[i] as TokenOption));
  if (anonymous.length > 0) {
    io.err.write(
      `WARNING: ${anonymous.map((t) => t.name).join(", ")} in \`tokens\` of ${config.file} ${anonymous.length === 1 ? "has" : "have"} no name and act${anonymous.length === 1 ? "s" : ""} as admin on every target; ` +
        'give each token a name and roles (`{ name: ci-deployer, env: CI_TOKEN, roles: [deployer] }`), see README "Who may do what".\n',
    );
  }
  // Listening starts before anything can spawn the engine (see onTermination).
  const terminated = new Promise<string>((resolve) => {
    const stopSignals = onTermination((signal) => {
      stopParent();
      resolve(signal);
    });
    const stopParent = onNpmParentGone(() => {
      stopSignals();
      resolve("the npm process that started driftless exited");
    });
  });
  const logger = cliLogger("info");
  const [reconciler, store] = await openServing(config, logger);
  const address = options.listen ?? config.listen;
  const graceMs = options.graceMs ?? config.shutdownGraceMs;
  const metrics = new ReconcilerMetrics(reconciler);
  const notifier = Notifier.create({
    providers: config.notify,
    // The reconciler's secrets (tokens, webhook secrets, the store's password) are added by `follow`.
    count: (provider, outcome) => metrics.notification(provider, outcome),
  }).follow(reconciler);
  const forks = config.pullRequests.forks;
  // Review stacks need a Git host to ask whether pull requests are still open, and to comment on them.
  const reviewStacks =
    notifier.hosts.length > 0 && reconciler.targets().some((t) => t.reviewStacks)
      ? new ReviewStacks(reconciler, notifier, { forks, audit: store, logger })
      : undefined;
  const pullRequests =
    notifier.hosts.length > 0
      ? new PullRequestPreviews(reconciler, notifier, { forks, ...(reviewStacks ? { reviewStacks } : {}) })
      : undefined;
  let server: Awaited<ReturnType<typeof listen>>;
  try {
    server = await listen(reconciler, {
      metrics,
      ...(pullRequests ? { pullRequests } : {}),
      host: address.host,
      port: address.port,
      tokens: config.tokens,
      policy: config.policy,
      // Personal tokens of signed-in users live in the store, seen by every replica.
      personalTokens: store.personalTokens,
      webhooks: config.webhooks,
      ...(config.auth.oidc ? { oidc: config.auth.oidc } : {}),
      publicReads: config.publicReads,
      maxBodyBytes: config.maxBodyBytes,
      // Sessions are signed cookies; logouts live in the store, so every replica
      // sharing it refuses a logged-out cookie, across restarts too.
      sessions: { revocations: store },
      // Every replica sharing the store appends to one audit chain.
      audit: store,
      // Webhook refusals and unreadable secrets are logged, not only answered.
      logger,
    });
  } catch (error) {
    notifier.close();
    await reconciler.stop({ graceMs: 0 });
    throw error;
  }
  reconciler.start();
  // Review stacks whose pull request closed while no server ran are destroyed now, in the background.
  reviewStacks
    ?.start()
    .catch((error: unknown) => logger.error({ err: error }, "could not take over the review stacks"));
  io.err.write(
    `driftless listening on ${server.url} (${reconciler.targets().length} target(s), data in ${config.dataDir})\n`,
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
  pullRequests?.close();
  const clean = await server.shutdown({ graceMs });
  clearTimeout(deadline);
  const flushed = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_MS).unref());
  await Promise.race([notifier.whenIdle(), flushed]);
  notifier.close();
  metrics.close();
  io.err.write(clean ? "stopped cleanly\n" : "stopped; runs in progress were cancelled\n");
  return clean ? EXIT.ok : EXIT.cancelled;
}
