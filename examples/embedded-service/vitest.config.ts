import { defineConfig } from "vitest/config";

// The example's own test run: `pnpm --filter @driftless/example-embedded-service test`.
export default defineConfig({ test: { include: ["src/**/*.test.ts"], testTimeout: 60_000 } });
