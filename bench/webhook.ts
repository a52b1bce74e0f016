// From a signed GitHub push arriving at the HTTP handler to the engine
// process starting for the matching target, on a local (`file://`) remote and
// on a smart-HTTP remote on 127.0.0.1; with where the time goes, from the
// run's own step timings.
import { createHmac } from "node:crypto";
import { join } from "node:path";
import {
  type EngineOperationOptions,
  listen,
  type Plan,
  PulumiEngine,
  Reconciler,
  type StackRequest,
  type TargetSpec,
} from "@driftless/gitops";
import { startGitHttp } from "../test/support/gitHttp.js";
import { type Figure, pages, progress, siteBench, stats } from "./lib.js";

/** The real engine, noting when a run first reaches it, per stack. */
class TimedEngine extends PulumiEngine {
  readonly started = new Map<string, number>();
  override preview(request: StackRequest, options?: EngineOperationOptions): Promise<Plan> {
    if (!this.started.has(request.stack)) this.started.set(request.stack, performance.now());
    return super.preview(request, options);
  }
}

/** Steps timed in a run's `[steps]` log line, before the engine starts. */
const BEFORE_ENGINE = [
  "resolveRevision",
  "decide",
  "awaitDependencies",
  "acquire",
  "checkout",
  "buildRequest",
];

export async function webhookBenchmark(runs: number): Promise<Figure[]> {
  const bench = siteBench(3);
  const engine = new TimedEngine();
  const http = await startGitHttp(join(bench.sandbox.dir, "repo"));
  const secret = "bench-webhook-secret";
  const remotes = [
    { name: "local", where: "local (file://) remote", url: bench.repo.fileUrl, goal: 100 },
    { name: "http", where: "smart-HTTP remote on 127.0.0.1", url: `${http.url}/remote.git`, goal: 150 },
  ] as const;
  const spec = (name: string, repo: string): TargetSpec => ({
    name,
    repo,
    stack: name,
    passphrase: "bench",
    config: { outDir: join(bench.outDir, name) },
    env: bench.env,
    refresh: false,
    interval: "1h",
  });
  const reconciler = await Reconciler.create({
    dataDir: bench.dataDir,
    engine,
    installDependencies: false,
    targets: remotes.map((r) => spec(r.name, r.url)),
  });
  const server = await listen(reconciler, { port: 0, webhooks: { github: secret } });
  const samples = new Map<string, number[]>(remotes.map((r) => [r.name, []]));
  const steps = new Map<string, Map<string, number[]>>(remotes.map((r) => [r.name, new Map()]));
  try {
    for (const r of remotes) await reconciler.reconcile(r.name);
    progress(`webhook to engine start: ${runs} signed pushes per remote`);
    for (let i = 0; i < runs; i++) {
      for (const remote of remotes) {
        const sha = bench.repo.commit({ "site.json": pages(3, i + 1) }, `push ${i + 1} for ${remote.name}`);
        const body = JSON.stringify({
          ref: "refs/heads/main",
          before: "0".repeat(40),
          after: sha,
          repository: { clone_url: remote.url },
          commits: [{ id: sha, added: [], removed: [], modified: ["site.json"] }],
        });
        const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
        engine.started.delete(remote.name);
        const finished = new Promise<string>((resolve) => {
          const off = reconciler.on("run.finished", (event) => {
            if (event.target !== remote.name) return;
            off();
            resolve(event.runId);
          });
        });
        const sent = performance.now();
        const response = await fetch(`${server.url}/hooks/github`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": `bench-${Date.now()}-${remote.name}-${i}`,
            "x-hub-signature-256": signature,
          },
          body,
        });
        if (response.status >= 300)
          throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
        const runId = await finished;
        const started = engine.started.get(remote.name);
        if (started === undefined) throw new Error(`the push did not reach the engine for ${remote.name}`);
        samples.get(remote.name)?.push(started - sent);
        const line = (await reconciler.runLog(runId))?.text.match(/\[steps\] (.*)/)?.[1] ?? "";
        for (const part of line.split("; ")) {
          const [step, ms] = part.split(" ");
          if (!step || !BEFORE_ENGINE.includes(step)) continue;
          const list = steps.get(remote.name)?.get(step) ?? [];
          list.push(Number(ms));
          steps.get(remote.name)?.set(step, list);
        }
      }
    }
  } finally {
    await server.shutdown({ graceMs: 1000 });
    await http.close();
    bench.dispose();
  }
  return remotes.map((remote) => {
    const value = stats(samples.get(remote.name) ?? []);
    const breakdown = [...(steps.get(remote.name) ?? new Map<string, number[]>())]
      .map(([step, list]) => `${step} ${stats(list).median.toFixed(0)} ms`)
      .join(", ");
    return {
      id: remote.name === "local" ? "webhook-to-engine" : "webhook-to-engine-http",
      name: `Signed GitHub push → engine process starting, ${remote.where}`,
      unit: "ms",
      value,
      goal: `≤ ${remote.goal} ms`,
      met: value.median <= remote.goal,
      notes: `signature check, the payload's commit fetched, the worktree moved to it; median step times: ${breakdown}`,
    } satisfies Figure;
  });
}
