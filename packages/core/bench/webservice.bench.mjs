// Declares 1,000 WebService components under Pulumi mocks, five times in one
// process, and prints one JSON line with the timings (last line of stdout).
// Nothing here asserts a time; the goal is 1,000 components in under 2 s.
//
//   pnpm exec tsc -b packages/core && node packages/core/bench/webservice.bench.mjs
import * as pulumi from "@pulumi/pulumi";

const COMPONENTS = 1000;
const RUNS = 5;

let registered = 0;
await pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered++;
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "bench",
  "bench",
  false,
);

// Loaded after the mocks so the SDK state they configure is already in place.
const { WebService } = await import("../dist/k8s/index.js");

const settle = (output) => new Promise((resolve) => output.apply(resolve));

async function run(round) {
  const components = [];
  const start = performance.now();
  await pulumi.runtime.runInPulumiStack(async () => {
    for (let i = 0; i < COMPONENTS; i++) {
      components.push(
        new WebService(`svc-${round}-${i}`, {
          image: `ghcr.io/acme/svc:${round}.${i}`,
          replicas: 2,
          env: { INDEX: String(i) },
        }),
      );
    }
    return {};
  });
  // Declared means registered with the (mock) engine: wait for every child.
  await Promise.all(
    components.flatMap((c) => [settle(c.deployment.urn), settle(c.service.urn), settle(c.dnsName)]),
  );
  return performance.now() - start;
}

const samples = [];
for (let round = 0; round < RUNS; round++) samples.push(await run(round));

const sorted = [...samples].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const round2 = (n) => Math.round(n * 100) / 100;
console.log(
  JSON.stringify({
    name: "component-declaration",
    components: COMPONENTS,
    msPerComponent: round2(median / COMPONENTS),
    totalMs: round2(median),
    runs: RUNS,
    medianMs: round2(median),
    minMs: round2(sorted[0]),
    maxMs: round2(sorted[sorted.length - 1]),
    samplesMs: samples.map(round2),
    resourcesRegistered: registered,
    node: process.version,
  }),
);
