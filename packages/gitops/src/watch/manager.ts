/**
 * The watches of one reconciler: one {@link KindWatch} per cluster and kind,
 * shared by every target with objects of that kind there; which target an
 * object's change concerns; the per-target coalescing of changes into one
 * drift check; and whether each target is watched. Loaded only when a
 * Kubernetes target is first watched (see `hub.ts`).
 */
import type { Logger } from "pino";
import { Coalescer } from "./coalescer.js";
import { KindWatch, objectKey } from "./kindWatch.js";
import { KubeClient, parseKubeconfig } from "./kubeClient.js";
import type { WatchCounters, WatchedObject, WatchHost, WatchTarget } from "./types.js";

interface Cluster {
  readonly client: KubeClient;
  readonly kinds: Map<string, KindWatch>;
}

interface Watching {
  /** Cluster key, kind key and object key of each watched object, with the URNs a change refreshes. */
  readonly objects: readonly {
    readonly cluster: string;
    readonly kind: string;
    readonly key: string;
    readonly object: WatchedObject;
  }[];
  /** The last `Watching` state reported, so only transitions are written. */
  reported?: string;
}

/** A change by others seen during a run of the target, judged once the run's inventory is known. */
interface Held {
  readonly cluster: string;
  readonly kind: string;
  readonly key: string;
  readonly scope: readonly string[];
  readonly at: number;
  /** When the change was seen here (epoch milliseconds). */
  readonly seenAt: number;
  /** An edit: the object's fingerprint after it (a deletion has none). */
  readonly fingerprint?: string;
}

const kindKey = (apiVersion: string, kind: string) => `${apiVersion}/${kind}`;

/** Every watch of one reconciler. */
export class WatchManager {
  readonly #host: WatchHost;
  readonly #log: Logger;
  readonly #clusters = new Map<string, Cluster>();
  readonly #targets = new Map<string, Watching>();
  /** `cluster|kind|namespace/name` → target → URNs to refresh. */
  readonly #index = new Map<string, Map<string, readonly string[]>>();
  readonly #errors = new Map<KindWatch, string>();
  /** Changes by others of a target's objects seen during its runs. */
  readonly #held = new Map<string, Held[]>();
  readonly #coalescer: Coalescer;
  readonly counters: WatchCounters = { received: 0, ignored: 0, checks: 0, covered: 0 };

  constructor(host: WatchHost, logger: Logger, windowMs: number) {
    this.#host = host;
    this.#log = logger;
    this.#coalescer = new Coalescer(
      windowMs,
      (target, changes) => {
        this.counters.checks++;
        this.#host.request(target, changes.urns, changes.since);
      },
      {
        inRun: (target) => this.#host.inRun(target),
        covered: (target, changes) => {
          this.counters.covered++;
          this.#log.info(
            { target, resources: changes.urns.length },
            "changes seen before the target's run refreshed every resource: no drift check of them",
          );
        },
      },
    );
  }

  /**
   * A run of the target refreshed every resource, from `startedAt` on (epoch
   * milliseconds): changes seen before then start no drift check.
   */
  refreshed(target: string, startedAt: number): void {
    this.#coalescer.refreshed(target, startedAt);
  }

  /** A run of the target ended: changes gathered during it are checked now. */
  runEnded(target: string): void {
    this.#coalescer.runEnded(target);
  }

  /** Watches opened now. */
  get open(): number {
    let open = 0;
    for (const cluster of this.#clusters.values())
      for (const kind of cluster.kinds.values()) if (kind.open) open++;
    return open;
  }

  /**
   * Watches exactly these objects of a target from now on (after a run, from
   * its inventory); watches no target needs any more are closed.
   * @throws Error when a kubeconfig cannot be read (nothing changes then)
   */
  set(target: WatchTarget): void {
    const objects: Watching["objects"][number][] = [];
    for (const group of target.groups) {
      const kube = parseKubeconfig(group.kubeconfig, group.baseDir);
      let cluster = this.#clusters.get(kube.key);
      if (!cluster) {
        cluster = { client: new KubeClient(kube), kinds: new Map() };
        this.#clusters.set(kube.key, cluster);
      }
      for (const object of group.objects)
        objects.push({
          cluster: kube.key,
          kind: kindKey(object.apiVersion, object.kind),
          key: objectKey(object.namespace, object.name),
          object,
        });
    }
    this.#unindex(target.target);
    const watching: Watching = { objects };
    const previous = this.#targets.get(target.target);
    if (previous?.reported) watching.reported = previous.reported;
    this.#targets.set(target.target, watching);
    for (const o of objects) {
      const id = `${o.cluster}|${o.kind}|${o.key}`;
      let owners = this.#index.get(id);
      if (!owners) {
        owners = new Map();
        this.#index.set(id, owners);
      }
      owners.set(target.target, o.object.scope);
      const cluster = this.#clusters.get(o.cluster) as Cluster;
      if (!cluster.kinds.has(o.kind))
        cluster.kinds.set(o.kind, this.#startKind(o.cluster, cluster, o.object));
    }
    this.#prune();
    this.#report(target.target);
  }

  /** Stops watching a target's objects. */
  remove(target: string): void {
    this.#unindex(target);
    this.#targets.delete(target);
    this.#held.delete(target);
    this.#coalescer.drop(target);
    this.#prune();
  }

  /** Closes every watch and drops waiting changes; nothing is left running. */
  async stop(): Promise<void> {
    this.#coalescer.clear();
    const kinds = [...this.#clusters.values()].flatMap((c) => [...c.kinds.values()]);
    await Promise.all(kinds.map((k) => k.stop()));
    for (const cluster of this.#clusters.values()) cluster.client.close();
    this.#clusters.clear();
    this.#targets.clear();
    this.#index.clear();
  }

  #startKind(clusterKey: string, cluster: Cluster, sample: WatchedObject): KindWatch {
    const kind = kindKey(sample.apiVersion, sample.kind);
    const watch: KindWatch = new KindWatch(cluster.client, sample.apiVersion, sample.kind, {
      watched: (key) => this.#index.has(`${clusterKey}|${kind}|${key}`),
      state: (error) => {
        if (error === undefined) this.#errors.delete(watch);
        else {
          if (!this.#errors.has(watch))
            this.#log.warn(
              { kind, err: error },
              "a watch broke; it resumes with a relist, and resync keeps running",
            );
          this.#errors.set(watch, error);
        }
        for (const target of this.#ownersOfKind(clusterKey, kind)) this.#report(target);
      },
      event: (key, _type, verdict) => {
        this.counters.received++;
        const owners = this.#index.get(`${clusterKey}|${kind}|${key}`);
        if (verdict === "unwatched" || !owners) {
          this.counters.ignored++;
          return;
        }
        for (const [target, scope] of owners) {
          if (!verdict.counts) {
            this.counters.ignored++;
            continue;
          }
          if (this.#host.inRun(target)) {
            // The run's own deletes and replacements look like anyone's: held until its inventory says.
            this.counters.ignored++;
            const fingerprint = verdict.reason === "changed" ? watch.seenOf(key)?.fingerprint : undefined;
            this.#hold(target, {
              cluster: clusterKey,
              kind,
              key,
              scope,
              at: verdict.at ?? Date.now(),
              seenAt: Date.now(),
              ...(fingerprint ? { fingerprint } : {}),
            });
            continue;
          }
          this.#log.info(
            {
              target,
              kind: sample.kind,
              object: key,
              change: verdict.reason,
              ...(verdict.by ? { by: verdict.by } : {}),
            },
            "a watched object changed; a drift check follows",
          );
          this.#coalescer.add(target, scope, verdict.at ?? Date.now());
        }
      },
    });
    return watch;
  }

  #hold(target: string, change: Held): void {
    const held = this.#held.get(target) ?? [];
    held.push(change);
    this.#held.set(target, held);
  }

  /**
   * A run of the target ended and its inventory is watched: changes by others
   * held during the run count if their object is still the target's, and a
   * deleted one is still gone (the run did not delete or recreate it itself).
   */
  release(target: string): void {
    const held = this.#held.get(target);
    this.#held.delete(target);
    for (const change of held ?? []) {
      const owners = this.#index.get(`${change.cluster}|${change.kind}|${change.key}`);
      const scope = owners?.get(target);
      const watch = this.#clusters.get(change.cluster)?.kinds.get(change.kind);
      const now = watch?.seenOf(change.key);
      // A deletion counts while the object is still gone; an edit while nobody (the run) wrote the object since.
      const stands = change.fingerprint ? now?.fingerprint === change.fingerprint : now === undefined;
      if (!scope || !watch || !stands) continue;
      this.#log.info(
        { target, object: change.key },
        "a change made during the target's run stands; a drift check follows",
      );
      this.#coalescer.add(target, scope, change.at, change.seenAt);
    }
  }

  #ownersOfKind(clusterKey: string, kind: string): string[] {
    return [...this.#targets]
      .filter(([, w]) => w.objects.some((o) => o.cluster === clusterKey && o.kind === kind))
      .map(([t]) => t);
  }

  #unindex(target: string): void {
    for (const o of this.#targets.get(target)?.objects ?? []) {
      const id = `${o.cluster}|${o.kind}|${o.key}`;
      const owners = this.#index.get(id);
      owners?.delete(target);
      if (owners?.size === 0) this.#index.delete(id);
    }
  }

  /** Closes kind watches and clusters no target needs. */
  #prune(): void {
    const needed = new Set<string>();
    for (const w of this.#targets.values()) for (const o of w.objects) needed.add(`${o.cluster}|${o.kind}`);
    for (const [key, cluster] of this.#clusters) {
      for (const [kind, watch] of cluster.kinds)
        if (!needed.has(`${key}|${kind}`)) {
          cluster.kinds.delete(kind);
          this.#errors.delete(watch);
          void watch.stop();
        }
      if (cluster.kinds.size === 0) {
        cluster.client.close();
        this.#clusters.delete(key);
      }
    }
  }

  /** Reports a target's `Watching` condition when it changed. */
  #report(target: string): void {
    const watching = this.#targets.get(target);
    if (!watching) return;
    const kinds = new Map<string, KindWatch>();
    for (const o of watching.objects) {
      const watch = this.#clusters.get(o.cluster)?.kinds.get(o.kind);
      if (watch) kinds.set(`${o.cluster}|${o.kind}`, watch);
    }
    const broken = [...kinds.values()].find((k) => this.#errors.has(k));
    const open = [...kinds.values()].every((k) => k.open);
    let state: { status: boolean; reason: string; message: string } | undefined;
    if (broken)
      state = {
        status: false,
        reason: "WatchInterrupted",
        message: `the watch of ${broken.kind} broke (${this.#errors.get(broken)}); it resumes with a relist, resync keeps running`,
      };
    else if (open)
      state = {
        status: true,
        reason: "Watching",
        message: `watching ${watching.objects.length} object(s) of ${kinds.size} kind(s)`,
      };
    if (!state) return;
    const digest = `${state.status}|${state.reason}|${state.message}`;
    if (watching.reported === digest) return;
    watching.reported = digest;
    this.#host.condition(target, state.status, state.reason, state.message);
  }
}
