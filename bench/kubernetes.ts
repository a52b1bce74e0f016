// Kubernetes latency figures from bench/k8s.mjs (a real etcd + kube-apiserver):
// a pushed commit to the Deployment updated, and an out-of-band edit to its correction.
import { fileURLToPath } from "node:url";
import { type Figure, progress, run, stats } from "./lib.js";

const script = fileURLToPath(new URL("./k8s.mjs", import.meta.url));

interface Summary {
  readonly samples: number[];
}

export async function kubernetesBenchmark(runs: number): Promise<Figure[]> {
  progress(`kubernetes: ${runs} × (commit → Deployment updated, edit → corrected) on a local API server`);
  const { stdout } = await run(process.execPath, ["--import", "tsx", script, String(runs)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const r = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    commitToDeploymentUpdated: Summary;
    outOfBandEditToCorrected: Summary;
  };
  return [
    {
      id: "k8s-commit-to-deployment",
      name: "Kubernetes: pushed commit (webhook trigger) → Deployment updated in the API server",
      unit: "ms",
      value: stats(r.commitToDeploymentUpdated.samples),
    },
    {
      id: "k8s-edit-to-correction",
      name: "Kubernetes: out-of-band edit → corrected by a manual reconcile",
      unit: "ms",
      value: stats(r.outOfBandEditToCorrected.samples),
    },
  ];
}
