/**
 * One watch of one kind on one cluster, shared by every target that manages
 * objects of that kind there: a list for the baseline, then a streamed watch
 * with bookmarks resumed from the last resourceVersion; a broken watch (API
 * server gone, 410 Gone, refused credentials) is listed again after a backoff
 * and what changed meanwhile is reported as if it had been watched.
 */
import { classify, type KubeObject, type Seen, seen, type Verdict, type WatchEventType } from "./changes.js";
import { type KindPath, KubeApiError, type KubeClient, kindPath } from "./kubeClient.js";

/** What a kind watch tells its owner. */
export interface KindWatchHost {
  /** A watched object's event (or a difference a relist found), classified. */
  event(key: string, type: WatchEventType, verdict: Verdict | "unwatched"): void;
  /** Whether an object (`namespace/name`) is watched by any target. */
  watched(key: string): boolean;
  /** The watch opened (`undefined`) or broke (why). */
  state(error: string | undefined): void;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** Watches end on the server after this long (plus up to a minute of spread) and resume from the last version. */
const WATCH_SECONDS = 240;

/** `namespace/name` (an empty namespace for cluster-scoped objects). */
export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/** A shared watch of one kind. */
export class KindWatch {
  readonly apiVersion: string;
  readonly kind: string;
  readonly #client: KubeClient;
  readonly #host: KindWatchHost;
  readonly #abort = new AbortController();
  readonly #seen = new Map<string, Seen>();
  #path: KindPath | undefined;
  #version: string | undefined;
  #open = false;
  #done: Promise<void>;

  constructor(client: KubeClient, apiVersion: string, kind: string, host: KindWatchHost) {
    this.#client = client;
    this.apiVersion = apiVersion;
    this.kind = kind;
    this.#host = host;
    this.#done = this.#loop();
  }

  /** Whether the watch stream is open now. */
  get open(): boolean {
    return this.#open;
  }

  /** What was last seen of an object; `undefined` when it does not exist (or was never listed). */
  seenOf(key: string): Seen | undefined {
    return this.#seen.get(key);
  }

  /** Stops the watch and waits for its loop to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    let broken = false;
    while (!signal.aborted) {
      try {
        this.#path ??= await kindPath(this.#client, this.apiVersion, this.kind);
        if (this.#version === undefined) await this.#list(broken, signal);
        broken = false;
        this.#open = true;
        this.#host.state(undefined);
        failures = 0;
        const seconds = WATCH_SECONDS + Math.floor(Math.random() * 60);
        await this.#client.watch(
          `${this.#path.path}?watch=1&allowWatchBookmarks=true&resourceVersion=${this.#version}&timeoutSeconds=${seconds}`,
          (event) => this.#event(event as { type?: string; object?: KubeObject & { code?: number } }),
          signal,
        );
      } catch (error) {
        if (signal.aborted) break;
        const gone = error instanceof KubeApiError && error.status === 410;
        // A relist follows every break: what changed while the stream was down is found by comparing.
        this.#version = undefined;
        if (gone) continue;
        broken = true;
        this.#open = false;
        this.#host.state(error instanceof Error ? error.message : String(error));
        const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)] as number;
        failures++;
        await sleep(wait, signal);
      }
    }
    this.#open = false;
  }

  /** Lists the kind; after a break, reports the watched objects that changed or went meanwhile. */
  async #list(compare: boolean, signal: AbortSignal): Promise<void> {
    const path = this.#path as KindPath;
    const fresh = new Map<string, { object: KubeObject; seen: Seen }>();
    let next: string | undefined;
    let version: string | undefined;
    do {
      const page = await this.#client.get<{
        items?: KubeObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>(`${path.path}?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ""}`, signal);
      for (const object of page.items ?? []) {
        const name = object.metadata?.name;
        if (name) fresh.set(objectKey(object.metadata?.namespace, name), { object, seen: seen(object) });
      }
      next = page.metadata?.continue || undefined;
      version = page.metadata?.resourceVersion;
    } while (next);
    if (compare) {
      for (const [key, before] of this.#seen) {
        if (!this.#host.watched(key)) continue;
        const now = fresh.get(key);
        if (!now) this.#host.event(key, "DELETED", classify(before, "DELETED", {}));
        else if (now.seen.fingerprint !== before.fingerprint)
          this.#host.event(key, "MODIFIED", classify(before, "MODIFIED", now.object));
      }
    }
    this.#seen.clear();
    for (const [key, entry] of fresh) this.#seen.set(key, entry.seen);
    this.#version = version;
  }

  #event(event: { type?: string; object?: KubeObject & { code?: number } }): void {
    const { type, object } = event;
    if (type === "ERROR") {
      throw new KubeApiError(`watch of ${this.kind} ended: ${String(object?.code ?? "error")}`, object?.code);
    }
    const version = object?.metadata?.resourceVersion;
    if (version) this.#version = version;
    if (type === "BOOKMARK" || !object?.metadata?.name) return;
    if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") return;
    const key = objectKey(object.metadata.namespace, object.metadata.name);
    const before = this.#seen.get(key);
    if (type === "DELETED") this.#seen.delete(key);
    else this.#seen.set(key, seen(object));
    this.#host.event(key, type, this.#host.watched(key) ? classify(before, type, object) : "unwatched");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
