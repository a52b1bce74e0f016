// Prometheus metrics fed by reconciler events, with gauges read when scraped.
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";
import type { Counter, Gauge, Registry } from "prom-client";
import type { DeliveryOutcome } from "../notify/deliveries.js";
import type { Reconciler } from "../reconciler.js";
import type { ReplicaStats } from "../replicas/replicas.js";
import type { WatchStats } from "../watch/types.js";

/** Outcome of one webhook delivery, as counted in `driftless_webhooks_total`. */
export type WebhookOutcome = "triggered" | "ignored" | "duplicate" | "unauthorized" | "invalid";

let promClient: typeof PromClient | undefined;

/**
 * prom-client, loaded when the first metrics are made rather than with the
 * package: a process that serves no metrics (a replica embedded without an
 * HTTP handler) never holds its ~8 MB.
 */
function loadPromClient(): typeof PromClient {
  promClient ??= createRequire(import.meta.url)("prom-client") as typeof PromClient;
  return promClient;
}

/**
 * Prometheus metrics of one reconciler, in a registry of their own (never the
 * global one, so several reconcilers or handlers in a process do not collide).
 *
 * Counters and the histogram follow reconciler events (`run.finished`,
 * `drift.detected`); gauges are read from the reconciler when scraped, so they
 * are right after a restart too.
 */
export class ReconcilerMetrics {
  /** The registry to expose; `await registry.metrics()` gives the text format. */
  readonly registry: Registry;
  readonly #webhooks: Counter<"provider" | "outcome">;
  readonly #notifications: Counter<"provider" | "outcome">;
  readonly #unsubscribe: (() => void)[];

  constructor(reconciler: Reconciler, options: { readonly registry?: Registry } = {}) {
    const { Counter, Gauge, Histogram, Registry } = loadPromClient();
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const runs = new Counter({
      name: "driftless_runs_total",
      help: "Finished reconcile runs by target and result.",
      labelNames: ["target", "result"] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: "driftless_run_duration_seconds",
      help: "Duration of reconcile runs, from dequeue to finish.",
      labelNames: ["target", "result"] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    });
    const drifts = new Counter({
      name: "driftless_drifts_detected_total",
      help: "Times a target's infrastructure differed from its unchanged revision.",
      labelNames: ["target"] as const,
      registers: [registry],
    });
    this.#webhooks = new Counter({
      name: "driftless_webhooks_total",
      help: "Webhook deliveries by provider and outcome.",
      labelNames: ["provider", "outcome"] as const,
      registers: [registry],
    });
    this.#notifications = new Counter({
      name: "driftless_notifications_total",
      help: "Outbound deliveries (commit statuses, comments, notifications) by provider and outcome.",
      labelNames: ["provider", "outcome"] as const,
      registers: [registry],
    });
    // Gauges read the store at scrape time; a closed store (during shutdown) yields no samples.
    const statuses = async () => {
      try {
        return await reconciler.statuses();
      } catch {
        return [];
      }
    };
    new Gauge({
      name: "driftless_last_successful_apply_timestamp_seconds",
      help: "When each target last applied successfully (unix seconds).",
      labelNames: ["target"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const status of await statuses()) {
          if (status.lastAppliedAt)
            this.set({ target: status.name }, Date.parse(status.lastAppliedAt) / 1000);
        }
      },
    });
    new Gauge({
      name: "driftless_target_ready",
      help: "1 when the target's Ready condition is true, else 0.",
      labelNames: ["target"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const status of await statuses()) {
          const ready = status.conditions.find((c) => c.type === "Ready")?.status === true;
          this.set({ target: status.name }, ready ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "driftless_queue_depth",
      help: "Runs waiting for a free slot.",
      registers: [registry],
      collect() {
        this.set(reconciler.queueDepth);
      },
    });
    // Replicas: figures of this replica, read when scraped (none without replicas).
    const replica = (read: (stats: ReplicaStats) => number) =>
      function (this: Gauge) {
        this.reset();
        const stats = reconciler.replicaStats();
        if (stats) this.set({ member: stats.member }, read(stats));
      };
    const replicaCount = (read: (stats: ReplicaStats) => number) =>
      function (this: Counter) {
        this.reset();
        const stats = reconciler.replicaStats();
        if (stats) this.inc({ member: stats.member }, read(stats));
      };
    new Gauge({
      name: "driftless_replica_targets_owned",
      help: "Targets this replica holds the lease of.",
      labelNames: ["member"] as const,
      registers: [registry],
      collect: replica((s) => s.owned),
    });
    new Gauge({
      name: "driftless_replica_members",
      help: "Live replicas sharing the store, as this replica last saw them.",
      labelNames: ["member"] as const,
      registers: [registry],
      collect: replica((s) => s.members),
    });
    new Counter({
      name: "driftless_replica_lease_renewal_failures_total",
      help: "Heartbeats of this replica that could not renew its membership and leases.",
      labelNames: ["member"] as const,
      registers: [registry],
      collect: replicaCount((s) => s.renewalFailures),
    });
    new Counter({
      name: "driftless_replica_takeovers_total",
      help: "Targets this replica took over from a replica whose lease lapsed.",
      labelNames: ["member"] as const,
      registers: [registry],
      collect: replicaCount((s) => s.takeovers),
    });
    // Watches of Kubernetes targets' objects: figures read when scraped, lags taken then.
    const lag = new Histogram({
      name: "driftless_watch_lag_seconds",
      help: "Time from a watched object's change to the start of the drift check it queued.",
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    let watch: { at: number; stats: Promise<WatchStats | undefined> } | undefined;
    const watchStats = (): Promise<WatchStats | undefined> => {
      if (!watch || Date.now() - watch.at > 1000) {
        const stats = reconciler.watchStats().catch(() => undefined);
        watch = { at: Date.now(), stats };
        void stats.then((s) => {
          for (const seconds of s?.lags ?? []) lag.observe(seconds);
        });
      }
      return watch.stats;
    };
    const watchFigure = (read: (stats: WatchStats) => number) =>
      async function (this: Gauge | Counter) {
        const stats = await watchStats();
        this.reset();
        if (!stats) return;
        if ("set" in this) this.set(read(stats));
        else this.inc(read(stats));
      };
    new Gauge({
      name: "driftless_watches_open",
      help: "Watches open now (one per cluster and kind, shared by the targets there).",
      registers: [registry],
      collect: watchFigure((s) => s.open),
    });
    new Counter({
      name: "driftless_watch_events_received_total",
      help: "Watch events received for the kinds watched (and differences found by relists).",
      registers: [registry],
      collect: watchFigure((s) => s.received),
    });
    new Counter({
      name: "driftless_watch_events_ignored_total",
      help: "Watch events that started no drift check: status only, the provider's or controllers' writes, during a run, unwatched objects.",
      registers: [registry],
      collect: watchFigure((s) => s.ignored),
    });
    new Counter({
      name: "driftless_watch_drift_checks_total",
      help: "Drift checks queued by watches.",
      registers: [registry],
      collect: watchFigure((s) => s.checks),
    });
    new Counter({
      name: "driftless_watch_drift_checks_covered_total",
      help: "Drift checks not queued: a run of the target began refreshing every resource after the watch saw the changes.",
      registers: [registry],
      collect: watchFigure((s) => s.covered),
    });
    this.#unsubscribe = [
      reconciler.on("run.finished", (e) => {
        runs.inc({ target: e.target, result: e.result });
        duration.observe({ target: e.target, result: e.result }, e.durationMs / 1000);
      }),
      reconciler.on("drift.detected", (e) => drifts.inc({ target: e.target })),
    ];
  }

  /** Counts one webhook delivery. */
  webhook(provider: string, outcome: WebhookOutcome): void {
    this.#webhooks.inc({ provider, outcome });
  }

  /** Counts one outbound delivery attempt's outcome (see `Notifier`). */
  notification(provider: string, outcome: DeliveryOutcome): void {
    this.#notifications.inc({ provider, outcome });
  }

  /** Stops following the reconciler's events. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }
}
