/**
 * Watch-driven drift detection, as the reconciler's parts see it: after each
 * run that read the stack's state, a Kubernetes target's objects (from its
 * inventory) and cluster (its provider's kubeconfig) are handed to the
 * {@link WatchManager}, which is loaded the first time a target is watched
 * (a reconciler without Kubernetes targets never loads it, nor `node:https`).
 * A change it reports queues a drift check (trigger `watch`) of the changed
 * resources. Owns the `Watching` condition and the watch metrics.
 *
 * May import: the engine's and the schedule's vocabulary, spec/.
 */
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { StackState, StateResource } from "../engine/types.js";
import type { TargetState } from "../schedule/runtime.js";
import { readSecret } from "../spec/secrets.js";
import type { ResolvedTarget } from "../spec/spec.js";
import type { ResourceEntry, TargetInventory } from "../types.js";
import { explicitKubeconfig, providerKubeconfig } from "./kubeconfig.js";
import type { WatchManager } from "./manager.js";
import type { WatchedObject, WatchGroup, WatchStats, WatchTarget } from "./types.js";

/** What the hub needs of the reconciler. */
export interface WatchHubHost {
  readonly logger: Logger;
  readonly dataDir: string;
  /** How long changes of one target are gathered before one drift check is queued. */
  readonly windowMs: number;
  /** Queues a drift check of these resources (trigger `watch`); a stopping reconciler refuses quietly. */
  request(target: string, urns: readonly string[]): void;
  /** Whether a run of the target is under way. */
  inRun(target: string): boolean;
  /** Writes a condition of the target's status. */
  condition(target: string, status: boolean, reason: string, message: string): void;
}

/** The watches of one reconciler, for the runs and the facade. */
export class WatchHub {
  readonly #host: WatchHubHost;
  #manager: Promise<WatchManager> | undefined;
  #stopped = false;
  /** Targets with a drift check queued by a watch: when its earliest change was made. */
  readonly #since = new Map<string, number>();
  #lags: number[] = [];
  /** Targets handed to the manager (and not taken back since). */
  readonly #watched = new Set<string>();
  /** Serializes updates per target: the latest inventory wins. */
  readonly #updates = new Map<string, Promise<void>>();

  constructor(host: WatchHubHost) {
    this.#host = host;
  }

  /** A run stored a target's inventory: watch what it manages now. */
  inventoryRead(
    state: TargetState,
    inventory: TargetInventory,
    resources: readonly StateResource[],
    secrets: StackState["secrets"],
  ): void {
    const target = state.spec;
    const previous = this.#updates.get(target.name) ?? Promise.resolve();
    const next = previous
      .then(() => this.#update(target, inventory, resources, secrets))
      .catch((error: unknown) =>
        this.#host.logger.warn({ target: target.name, err: error }, "could not update the target's watches"),
      );
    this.#updates.set(target.name, next);
  }

  /** A run of a target started (trigger `watch`: its lag is measured). */
  runStarted(target: string, trigger: string): void {
    const since = this.#since.get(target);
    if (trigger !== "watch" || since === undefined) return;
    this.#since.delete(target);
    this.#lags.push(Math.max(0, (Date.now() - since) / 1000));
    if (this.#lags.length > 1000) this.#lags.splice(0, this.#lags.length - 1000);
  }

  /**
   * A run of the target refreshed every resource from `startedAt` on (epoch
   * milliseconds): what the watches saw before then needs no drift check.
   */
  refreshed(target: string, startedAt: number): void {
    void this.#manager?.then((m) => m.refreshed(target, startedAt));
  }

  /** The target's runs ended: changes gathered during them are checked now. */
  runEnded(target: string): void {
    void this.#manager?.then((m) => m.runEnded(target));
  }

  /**
   * A target's spec changed: when it turned watching off ({@link watchOff}),
   * its watches close now, not after its next run (a target never watched is
   * left as it is).
   */
  async specChanged(target: ResolvedTarget): Promise<void> {
    const off = watchOff(target);
    if (!off || !this.#watched.has(target.name)) return;
    await this.#unwatch(target.name, "Disabled", off);
  }

  /** Stops watching a removed target. */
  async remove(target: string): Promise<void> {
    this.#since.delete(target);
    this.#watched.delete(target);
    if (this.#manager) (await this.#manager).remove(target);
  }

  /** The watches' figures; the lags are taken (see {@link WatchStats.lags}). */
  async stats(): Promise<WatchStats> {
    const lags = this.#lags;
    this.#lags = [];
    if (!this.#manager) return { open: 0, received: 0, ignored: 0, checks: 0, covered: 0, lags };
    const manager = await this.#manager;
    return { ...manager.counters, open: manager.open, lags };
  }

  /** Closes every watch; later inventories start none. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#updates.values()]);
    if (this.#manager) await (await this.#manager).stop();
  }

  async #update(
    target: ResolvedTarget,
    inventory: TargetInventory,
    resources: readonly StateResource[],
    secrets: StackState["secrets"],
  ): Promise<void> {
    if (this.#stopped) return;
    const kubernetes = inventory.resources.filter((r) => r.kubernetes !== undefined);
    const off = watchOff(target);
    if (off) {
      if (kubernetes.length > 0) await this.#unwatch(target.name, "Disabled", off);
      return;
    }
    // Not a Kubernetes target (or nothing left): nothing changes for it.
    if (kubernetes.length === 0) {
      this.#watched.delete(target.name);
      if (this.#manager) (await this.#manager).remove(target.name);
      return;
    }
    let groups: WatchGroup[];
    try {
      groups = await this.#groups(target, inventory, kubernetes, resources, secrets);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.#unwatch(target.name, "KubeconfigUnreadable", `${message}; drift is found by resync`);
      return;
    }
    if (groups.length === 0) {
      await this.#unwatch(
        target.name,
        "NoKubeconfig",
        "the stack's Kubernetes provider has no kubeconfig input; set the target's `watch.kubeconfig`",
      );
      return;
    }
    const watched: WatchTarget = { target: target.name, groups };
    const manager = await this.#load();
    if (this.#stopped) return;
    try {
      manager.set(watched);
      this.#watched.add(target.name);
      manager.release(target.name);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.#unwatch(target.name, "KubeconfigUnreadable", `${message}; drift is found by resync`);
    }
  }

  /** The target's objects grouped by the cluster of their provider. */
  async #groups(
    target: ResolvedTarget,
    inventory: TargetInventory,
    kubernetes: readonly ResourceEntry[],
    resources: readonly StateResource[],
    secrets: StackState["secrets"],
  ): Promise<WatchGroup[]> {
    const byUrn = new Map(inventory.resources.map((r) => [r.urn, r]));
    const stateByUrn = new Map(resources.map((r) => [r.urn, r]));
    const scopeOf = (entry: ResourceEntry): string[] => {
      const scope = [entry.urn];
      let parent = entry.parent ? byUrn.get(entry.parent) : undefined;
      while (parent && !parent.type.startsWith("pulumi:pulumi:Stack") && !scope.includes(parent.urn)) {
        scope.push(parent.urn);
        parent = parent.parent ? byUrn.get(parent.parent) : undefined;
      }
      return scope;
    };
    const byProvider = new Map<string, WatchedObject[]>();
    for (const entry of kubernetes) {
      const k = entry.kubernetes as NonNullable<ResourceEntry["kubernetes"]>;
      // The inventory keeps the provider's URN (the state's reference without its id).
      const provider = entry.provider ?? "";
      const list = byProvider.get(provider) ?? [];
      list.push({
        apiVersion: k.apiVersion,
        kind: k.kind,
        ...(k.namespace ? { namespace: k.namespace } : {}),
        name: k.name,
        scope: scopeOf(entry),
      });
      byProvider.set(provider, list);
    }
    const explicit = target.watch.kubeconfig ? explicitKubeconfig(target.watch.kubeconfig) : undefined;
    const baseDir = target.program
      ? this.#host.dataDir
      : join(this.#host.dataDir, "work", target.name, target.path);
    const groups: WatchGroup[] = [];
    for (const [provider, objects] of byProvider) {
      const fromState = explicit
        ? undefined
        : await providerKubeconfig(stateByUrn.get(provider), secrets, () =>
            readSecret(target.passphrase, "passphrase"),
          );
      const kubeconfig =
        explicit ??
        fromState ??
        target.config["kubernetes:kubeconfig"] ??
        target.env.KUBECONFIG?.split(":")[0];
      if (!kubeconfig) continue;
      groups.push({
        kubeconfig,
        baseDir: explicit && "file" in (target.watch.kubeconfig ?? {}) ? dirname(explicit) : baseDir,
        objects,
      });
    }
    return groups;
  }

  async #unwatch(target: string, reason: string, message: string): Promise<void> {
    this.#watched.delete(target);
    if (this.#manager) (await this.#manager).remove(target);
    this.#host.condition(target, false, reason, message);
  }

  #load(): Promise<WatchManager> {
    this.#manager ??= import("./manager.js").then(
      ({ WatchManager }) =>
        new WatchManager(
          {
            request: (target, urns, since) => {
              if (this.#stopped) return;
              if (!this.#since.has(target)) this.#since.set(target, since);
              this.#host.request(target, urns);
            },
            inRun: (target) => this.#host.inRun(target),
            condition: (target, status, reason, message) =>
              this.#host.condition(target, status, reason, message),
          },
          this.#host.logger,
          this.#host.windowMs,
        ),
    );
    return this.#manager;
  }
}

/**
 * Why a target is not watched although it may hold Kubernetes objects
 * (`undefined` when it is): `watch: false`, or `refresh: false` (a target that
 * does not refresh finds no drift, so a change could start only empty checks).
 */
export function watchOff(target: ResolvedTarget): string | undefined {
  if (!target.watch.enabled) return "the target's `watch` is false; drift is found by resync";
  if (!target.refresh) return "the target's `refresh` is false: it does not look for drift";
  return undefined;
}
