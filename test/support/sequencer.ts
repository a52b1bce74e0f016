// The order vitest starts test files in: longest first, so the workers
// finish together instead of one running a three-minute file alone at the
// end. vitest's own order is by the durations in its cache, which a fresh
// clone does not have; it falls back to file size there, which puts a 10 s
// unit file before a 3 min end-to-end one. The durations below stand in for
// that cache until it exists.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each file took in a second `make test` of a fresh clone (2 cores,
 * coverage on, three files side by side; 16 min 29 s in all), hooks included,
 * for the files that take 5 s or more; `project:path from the repository
 * root`. Refresh them from the per-file lines of `make test`'s output
 * (`✓ e2e kubernetes.test.ts (11 tests) 262743ms`) when the long files change
 * much. Taken before the e2e files had Node's compile cache, which cut the
 * files measured with and without it side by side by about 5 % alike, so the
 * order stands.
 *
 * A file not listed (a new one) is placed by vitest's cache when it has run
 * here before, otherwise after the listed ones, larger files first.
 */
export const KNOWN_SECONDS: Readonly<Record<string, number>> = {
  "e2e:test/kubernetes.test.ts": 263,
  "e2e:test/replicas.test.ts": 252,
  "e2e:test/processes.test.ts": 209,
  "e2e:test/watch.test.ts": 107,
  "e2e:test/reconciler.test.ts": 96,
  "e2e:test/resourcesKubernetes.test.ts": 94,
  "e2e:test/cli.test.ts": 90,
  "e2e:test/reviewStacks.test.ts": 82,
  "e2e:test/ui.test.ts": 79,
  "e2e:test/pack.test.ts": 73,
  "e2e:test/gitea.test.ts": 71,
  "e2e:test/sameNameReplace.test.ts": 68,
  "e2e:test/hostLatency.test.ts": 67,
  "e2e:test/pipelines.test.ts": 64,
  "e2e:test/promotion.test.ts": 62,
  "e2e:test/approval.test.ts": 57,
  "e2e:test/crash.test.ts": 55,
  "e2e:test/logs.test.ts": 53,
  "e2e:test/demo.test.ts": 51,
  "e2e:test/refreshOnce.test.ts": 48,
  "e2e:test/locking.test.ts": 46,
  "e2e:test/hostResponsiveness.test.ts": 43,
  "e2e:test/postgresCrash.test.ts": 42,
  "e2e:test/windows.test.ts": 41,
  "e2e:test/pushedRevision.test.ts": 39,
  "e2e:test/sameTree.test.ts": 39,
  "e2e:test/coreComponents.test.ts": 38,
  "e2e:test/postgres.test.ts": 35,
  "e2e:test/drift.test.ts": 31,
  "e2e:test/oidc.test.ts": 29,
  "e2e:test/engine.test.ts": 27,
  "gitops:packages/gitops/src/store/store.contract.test.ts": 25,
  "e2e:test/typecheck.test.ts": 24,
  "e2e:test/resources.test.ts": 23,
  "e2e:test/gitSsh.test.ts": 20,
  "e2e:test/missingPlugin.test.ts": 18,
  "e2e:test/inline.test.ts": 17,
  "e2e:test/http.test.ts": 13,
  "e2e:test/audit.test.ts": 12,
  "gitops:packages/gitops/src/store/replicas.contract.test.ts": 10,
  "gitops:packages/gitops/src/git/source.test.ts": 10,
  "e2e:test/quiet.test.ts": 10,
  "e2e:test/serve.test.ts": 9,
  "gitops:packages/gitops/src/schedule/scheduler.test.ts": 7,
  "e2e:test/guardrails.test.ts": 6,
  "core:packages/core/src/rootEntry.test.ts": 6,
  "gitops:packages/gitops/src/store/runLog.test.ts": 5,
};

/** Starts the files expected to take longest first (see {@link KNOWN_SECONDS}). */
export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const root = this.ctx.config.root;
    const key = (spec: TestSpecification) =>
      `${spec.project.name}:${spec.moduleId.startsWith(`${root}/`) ? spec.moduleId.slice(root.length + 1) : spec.moduleId}`;
    const expectedMs = (spec: TestSpecification) => {
      const id = key(spec);
      return cache.getFileTestResults(id)?.duration ?? (KNOWN_SECONDS[id] ?? 0) * 1000;
    };
    const size = (spec: TestSpecification) => cache.getFileStats(key(spec))?.size ?? 0;
    return files
      .map((spec) => ({ spec, ms: expectedMs(spec), size: size(spec) }))
      .sort((a, b) => b.ms - a.ms || b.size - a.size)
      .map(({ spec }) => spec);
  }
}
