// From a signed GitHub push arriving at the HTTP handler to the engine
// process starting for the matching target.
import { createHmac } from "node:crypto";
import { join } from "node:path";
import {
  type EngineOperationOptions,
  listen,
  type Plan,
  PulumiEngine,
  Reconciler,
  type StackRequest,
} from "@driftless/gitops";
import { type Figure, pages, progress, siteBench, stats } from "./lib.js";

/** The real engine, noting when a run first reaches it. */
class TimedEngine extends PulumiEngine {
  started: number | undefined;
  override preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    this.started ??= performance.now();
    return super.preview(request, options);
  }
}

export async function webhookBenchmark(runs: number): Promise<Figure[]> {
  const bench = siteBench(3);
  const engine = new TimedEngine();
  const secret = "bench-webhook-secret";
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    engine,
    installDependencies: false,
    targets: [
      {
        name: "hook",
        repo: bench.repo.fileUrl,
        stack: "hook",
        passphrase: "bench",
        config: { outDir: join(bench.outDir, "hook") },
        env: bench.env,
        refresh: false,
        interval: "1h",
      },
    ],
  });
  const server = await listen(reconciler, { port: 0, webhooks: { github: secret } });
  const samples: number[] = [];
  try {
    await reconciler.reconcile("hook");
    progress(`webhook to engine start: ${runs} signed pushes`);
    for (let i = 0; i < runs; i++) {
      const sha = bench.repo.commit({ "site.json": pages(3, i + 1) }, `push ${i + 1}`);
      const body = JSON.stringify({
        ref: "refs/heads/main",
        after: sha,
        repository: { clone_url: bench.repo.fileUrl },
        commits: [{ id: sha, added: [], removed: [], modified: ["site.json"] }],
      });
      const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      engine.started = undefined;
      const finished = new Promise<void>((resolve) => {
        const off = reconciler.on("run.finished", () => {
          off();
          resolve();
        });
      });
      const sent = performance.now();
      const response = await fetch(`${server.url}/hooks/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-github-delivery": `bench-${Date.now()}-${i}`,
          "x-hub-signature-256": signature,
        },
        body,
      });
      if (response.status >= 300)
        throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
      await finished;
      if (engine.started === undefined) throw new Error("the push did not reach the engine");
      samples.push(engine.started - sent);
    }
  } finally {
    await server.shutdown({ graceMs: 1000 });
    bench.dispose();
  }
  const value = stats(samples);
  return [
    {
      id: "webhook-to-engine",
      name: "Signed GitHub push → engine process starting",
      unit: "ms",
      value,
      goal: "≤ 100 ms",
      met: value.median <= 100,
      notes: "includes signature check, ls-remote, fetch of the new commit and worktree checkout",
    },
  ];
}
