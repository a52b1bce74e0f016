/**
 * The watch's vocabulary, shared by the hub (loaded with the reconciler) and
 * the manager (loaded when a Kubernetes target is first watched).
 */

/** One Kubernetes object a target manages, as the watch knows it. */
export interface WatchedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /** The URNs a change of it refreshes: its own and its component parents'. */
  readonly scope: readonly string[];
}

/** A target's objects on one cluster (one Kubernetes provider of its stack). */
export interface WatchGroup {
  /** The kubeconfig: its contents or the path of a file holding them. */
  readonly kubeconfig: string;
  /** Where relative paths of a kubeconfig given as contents are read from. */
  readonly baseDir?: string;
  readonly objects: readonly WatchedObject[];
}

/** What a target has watched. */
export interface WatchTarget {
  readonly target: string;
  readonly groups: readonly WatchGroup[];
}

/** What the manager asks of the reconciler. */
export interface WatchHost {
  /** Queues a drift check of these resources of a target; `since` is when the earliest change was made. */
  request(target: string, urns: readonly string[], since: number): void;
  /** Whether a run of the target is under way (its own writes are not drift). */
  inRun(target: string): boolean;
  /** Writes the target's `Watching` condition. */
  condition(target: string, status: boolean, reason: string, message: string): void;
}

/** Counters since the reconciler started. */
export interface WatchCounters {
  /** Watch events received (and differences found by relists). */
  received: number;
  /** Events that did not count: status-only, the provider's or a controller's writes, unwatched objects, during the target's run. */
  ignored: number;
  /** Drift checks the watches queued. */
  checks: number;
  /**
   * Drift checks not queued because a run of the target began refreshing
   * every resource after the watch saw the changes (that refresh read them).
   */
  covered: number;
}

/** The watches' figures, as `Reconciler.watchStats` reports them. */
export interface WatchStats extends WatchCounters {
  /** Watches (one per cluster and kind) open now. */
  readonly open: number;
  /**
   * Seconds from an object's change to the start of the drift check it
   * queued, one per check since the last call (taken: the list is emptied).
   */
  readonly lags: readonly number[];
}
