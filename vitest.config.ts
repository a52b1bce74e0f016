import { defineConfig } from "vitest/config";
import { LongestFirstSequencer } from "./test/support/sequencer.js";

// One vitest for the whole workspace: unit tests beside the sources of each
// package, end-to-end tests (real engine, real git) under test/.
export default defineConfig({
  test: {
    // vitest's default is one worker per core minus one, which is one here; the
    // end-to-end files spend much of their time waiting on engine processes,
    // servers and git (two left about a sixth of the 2 cores idle), and each has
    // its own sandbox, so three run side by side.
    maxWorkers: 3,
    minWorkers: 1,
    // Longest files first, also in a fresh clone without vitest's duration cache.
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: "core",
          root: "packages/core",
          include: ["src/**/*.test.ts"],
          // The type tests (src/**/*.test-d.ts, expectTypeOf) are checked by `make typecheck`
          // (scripts/typecheck.sh: tsc -p packages/core/tsconfig.test.json, which includes them):
          // a failed expectation is a compile error there. vitest's typecheck mode ran the same
          // tsc a second time, ~20 s of a core during the tests.
        },
      },
      {
        test: { name: "gitops", root: "packages/gitops", include: ["src/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        test: {
          name: "examples",
          root: "examples",
          include: ["*/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "e2e",
          root: "test",
          include: ["**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Node's compile cache for the workers and the processes the tests start.
          setupFiles: ["./support/compileCache.ts"],
        },
      },
    ],
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts"],
      exclude: ["**/*.test.ts", "**/*.test-d.ts", "**/index.ts"],
      reporter: ["text-summary", "json-summary"],
    },
  },
});
