// Declares 1,000 WebService components under Pulumi mocks, and the same
// resources as plain @pulumi/kubernetes objects without the component, in
// alternating rounds in one process, and prints one JSON line with the
// timings (last line of stdout). Nothing here asserts a time.
//
//   pnpm exec tsc -b packages/core && node packages/core/bench/webservice.bench.mjs
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const COMPONENTS = Number(process.env.BENCH_COMPONENTS ?? 1000);
// Nine rounds: on a loaded machine single rounds swing by 2x; the ratio is
// taken per round (each pair ran back to back) and the median of those reported.
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

let registered = 0;
/** What the component's children were registered with, to declare the same resources raw. */
let captured;
await pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered++;
      if (captured && args.type.startsWith("kubernetes:"))
        captured.push({ type: args.type, name: args.name, inputs: args.inputs });
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

function webServices(round) {
  const components = [];
  for (let i = 0; i < COMPONENTS; i++) {
    components.push(
      new WebService(`svc-${round}-${i}`, {
        image: `ghcr.io/acme/svc:${round}.${i}`,
        replicas: 2,
        env: { INDEX: String(i) },
      }),
    );
  }
  // Declared means registered with the (mock) engine: wait for every child.
  return components.flatMap((c) => [settle(c.deployment.urn), settle(c.service.urn), settle(c.dnsName)]);
}

/** The classes of the children a WebService declares, by type token. */
const CLASSES = {
  "kubernetes:apps/v1:Deployment": k8s.apps.v1.Deployment,
  "kubernetes:core/v1:Service": k8s.core.v1.Service,
  "kubernetes:core/v1:ServiceAccount": k8s.core.v1.ServiceAccount,
  "kubernetes:policy/v1:PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
};

function resourceClass(type) {
  const Resource = CLASSES[type];
  if (!Resource) throw new Error(`no raw class for ${type}: add it to CLASSES`);
  return Resource;
}

/** The component's children, declared one by one with the inputs the component gave them. */
function rawResources(round, resources) {
  return resources.map(({ type, name, inputs }) => {
    const Resource = resourceClass(type);
    return settle(new Resource(name.replace(/^svc-\d+-/, `raw-${round}-`), inputs).urn);
  });
}

async function timed(declare) {
  const start = performance.now();
  let pending;
  await pulumi.runtime.runInPulumiStack(async () => {
    pending = declare();
    return {};
  });
  await Promise.all(pending);
  return performance.now() - start;
}

// The raw baseline declares exactly what one round of components registers.
captured = [];
await timed(() => webServices("warmup"));
const children = captured;
captured = undefined;

const ours = [];
const raw = [];
for (let round = 0; round < RUNS; round++) {
  raw.push(await timed(() => rawResources(round, children)));
  ours.push(await timed(() => webServices(round)));
}

const round2 = (n) => Math.round(n * 100) / 100;
const summary = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    medianMs: round2(sorted[Math.floor(sorted.length / 2)]),
    minMs: round2(sorted[0]),
    maxMs: round2(sorted[sorted.length - 1]),
    samplesMs: samples.map(round2),
  };
};
console.log(
  JSON.stringify({
    name: "component-declaration",
    components: COMPONENTS,
    rawResources: children.length,
    runs: RUNS,
    ...summary(ours),
    raw: summary(raw),
    pairedRatios: ours.map((ms, i) => round2(ms / raw[i])),
    resourcesRegistered: registered,
    node: process.version,
  }),
);
