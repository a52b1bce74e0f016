// Kubernetes latency figures from bench/k8s.mjs (the lifelike local cluster and
// upstream's Pulumi Kubernetes provider): a pushed commit to the Deployment
// rolled out and Ready, and an out-of-band edit to its correction.
import { fileURLToPath } from "node:url";
import { type Figure, progress, run, stats } from "./lib.js";

const script = fileURLToPath(new URL("./k8s.mjs", import.meta.url));

// The same figures with the stand-in provider of ours that these replaced (no
// readiness waits, a control plane without nodes), measured 2026-11-24 on this
// machine kind: medians of 5.
const STANDIN_MS = { commit: 10989, edit: 10253 } as const;
const STANDIN_NOTE = (ms: number) =>
  `and controllers; the earlier stand-in provider, without readiness waits or nodes, took ${ms} ms (to "updated")`;

interface Summary {
  readonly samples: number[];
}

export async function kubernetesBenchmark(runs: number): Promise<Figure[]> {
  progress(`kubernetes: ${runs} × (commit → Deployment Ready, edit → corrected) on the local cluster`);
  const { stdout } = await run(process.execPath, ["--import", "tsx", script, String(runs)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const r = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    commitToDeploymentReady: Summary;
    outOfBandEditToCorrected: Summary;
  };
  return [
    {
      id: "k8s-commit-to-ready",
      name: "Kubernetes: pushed commit (webhook trigger) → Deployment rolled out and Ready",
      unit: "ms",
      value: stats(r.commitToDeploymentReady.samples),
      notes: `upstream provider ${STANDIN_NOTE(STANDIN_MS.commit)}`,
    },
    {
      id: "k8s-edit-to-correction",
      name: "Kubernetes: out-of-band edit → corrected and rolled out by a manual reconcile",
      unit: "ms",
      value: stats(r.outOfBandEditToCorrected.samples),
      notes: `upstream provider ${STANDIN_NOTE(STANDIN_MS.edit)}`,
    },
  ];
}
