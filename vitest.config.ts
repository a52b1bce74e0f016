import { defineConfig } from "vitest/config";

// One vitest for the whole workspace: unit tests beside the sources of each
// package, end-to-end tests (real engine, real git) under test/.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
          root: "packages/core",
          include: ["src/**/*.test.ts"],
          // The package tsconfig leaves tests out; this one type-checks them too.
          typecheck: { enabled: true, include: ["src/**/*.test-d.ts"], tsconfig: "tsconfig.test.json" },
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
          // The engine tests each start real Pulumi processes; two machines' worth
          // of cores is all we have, so they run one file at a time.
          fileParallelism: false,
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
