// The order vitest starts test files in: longest first, so the two workers
// finish together instead of one running a three-minute file alone at the
// end. vitest's own order is by the durations in its cache, which a fresh
// clone does not have; it falls back to file size there, which puts a 10 s
// unit file before a 3 min end-to-end one. The durations below stand in for
// that cache until it exists.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each file took in a second `make test` of a fresh clone (2 cores,
 * coverage on), for the files that take 5 s or more; `project:path from the
 * repository root`. Refresh them from `.toolchain/vitest-results.json` when
 * the long files change much:
 *
 *     node -e 'for (const f of require("./.toolchain/vitest-results.json").testResults)
 *       console.log(Math.round((f.endTime - f.startTime) / 1000), f.name)' | sort -rn
 *
 * A file not listed (a new one) is placed by vitest's cache when it has run
 * here before, otherwise after the listed ones, larger files first.
 */
export const KNOWN_SECONDS: Readonly<Record<string, number>> = {
  // kubernetes and processes scaled by a paired run of the old and new file side by side
  // (312 → 304 s and 254 → 246 s): a shorter never-Ready rollout wait; the Go scenario's
  // cluster started with the file.
  "e2e:test/kubernetes.test.ts": 180,
  "e2e:test/replicas.test.ts": 170,
  "e2e:test/processes.test.ts": 115,
  "e2e:test/ui.test.ts": 73,
  // Added after that run, measured on their own: the cluster inventory, single sign-on, the audit log.
  "e2e:test/resourcesKubernetes.test.ts": 57 + 29, // + the review stack scenario, measured under load
  // Watch-driven drift checks: six engine runs and an API server restart on one cluster
  // (128 s, 189 s and 244 s measured beside other helpers' tests at load 9–17; not measured quiet).
  "e2e:test/watch.test.ts": 90,
  "e2e:test/oidc.test.ts": 35,
  "e2e:test/audit.test.ts": 15,
  "e2e:test/reconciler.test.ts": 67,
  "e2e:test/gitea.test.ts": 65,
  // Not measured on a quiet machine: 108 s on its own at the start of a busy day, 172–209 s at load 13–19 on 2 cores.
  "e2e:test/reviewStacks.test.ts": 110,
  "e2e:test/cli.test.ts": 62,
  "e2e:test/hostLatency.test.ts": 55,
  "e2e:test/pack.test.ts": 50,
  "e2e:test/sameNameReplace.test.ts": 46,
  "e2e:test/promotion.test.ts": 41,
  "e2e:test/hostResponsiveness.test.ts": 40,
  "e2e:test/pipelines.test.ts": 38,
  "e2e:test/postgresCrash.test.ts": 31,
  "e2e:test/logs.test.ts": 31,
  "e2e:test/windows.test.ts": 28,
  "e2e:test/crash.test.ts": 28,
  "e2e:test/postgres.test.ts": 28,
  "e2e:test/demo.test.ts": 27,
  "e2e:test/locking.test.ts": 27,
  "e2e:test/approval.test.ts": 26,
  "e2e:test/refreshOnce.test.ts": 25,
  "e2e:test/sameTree.test.ts": 22,
  "e2e:test/coreComponents.test.ts": 22,
  "e2e:test/pushedRevision.test.ts": 20,
  "e2e:test/drift.test.ts": 19,
  "e2e:test/engine.test.ts": 17,
  "e2e:test/typecheck.test.ts": 16,
  "e2e:test/resources.test.ts": 15,
  "e2e:test/gitSsh.test.ts": 13,
  "gitops:packages/gitops/src/store/store.contract.test.ts": 10,
  "gitops:packages/gitops/src/store/replicas.contract.test.ts": 9,
  "e2e:test/inline.test.ts": 9,
  "e2e:test/missingPlugin.test.ts": 9,
  "e2e:test/http.test.ts": 8,
  "e2e:test/quiet.test.ts": 7,
  "gitops:packages/gitops/src/schedule/scheduler.test.ts": 7,
  "e2e:test/serve.test.ts": 6,
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
