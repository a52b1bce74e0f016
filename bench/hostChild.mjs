// One host of the host-responsiveness benchmark (bench/hostResponsiveness.ts):
// a service embedding a reconciler, as a user's would — a node:http server
// with its own `/ping` route beside Driftless's handler — with every target of
// the bench, shared through one PostgreSQL database with the other hosts.
// Like test/support/hostChild.mjs, it measures its own event-loop delay
// (monitorEventLoopDelay) and answers it on `/loop` (`?reset=1` starts a new
// phase); it prints one JSON line `{ port, member }` once listening, and
// SIGTERM stops it.
//
// The same file runs against this checkout and against an older one (the
// bench copies it into that checkout's bench/ so `@driftless/gitops` resolves
// there), so it keeps to what both offer: store calls are awaited (a
// synchronous store's values pass through `await` unchanged). Plain
// JavaScript, as a service embedding the reconciler runs.
//
// argv[2]: JSON { mode: "seed" | "host", url, dataDir, repos: { url, head }[],
// targets, leaseTtlMs }. `seed` stores every target as applied at its
// repository's head (as bench/replicas.ts does), so no engine ever runs, and exits.
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createHandler, PostgresStore, PulumiEngine, Reconciler } from "@driftless/gitops";

/** @type {{ mode: "seed" | "host"; url: string; dataDir: string; repos: { url: string; head: string }[]; targets: number; leaseTtlMs: number }} */
const { mode, url, dataDir, repos, targets, leaseTtlMs } = JSON.parse(process.argv[2]);

if (mode === "seed") {
  // PostgresStore.open (asynchronous stores) or the constructor (the older, synchronous one).
  const store =
    typeof PostgresStore.open === "function" ? await PostgresStore.open(url) : new PostgresStore(url);
  try {
    const now = new Date().toISOString();
    for (let i = 0; i < targets; i++) {
      await store.putStatus({
        name: `t-${i}`,
        conditions: [],
        lastAppliedRevision: repos[i % repos.length].head,
        lastDriftCheckAt: now,
        updatedAt: now,
      });
    }
  } finally {
    await store.close();
  }
  process.exit(0);
}

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
/** @type {import("@driftless/gitops").TargetSpec[]} */
const specs = Array.from({ length: targets }, (_, i) => {
  const name = `t-${i}`;
  return {
    name,
    repo: repos[i % repos.length].url,
    stack: name,
    passphrase: "bench",
    interval: "1m",
    resync: "24h",
  };
});
const reconciler = await Reconciler.create({
  dataDir,
  store: url,
  engine: new PulumiEngine(),
  targets: specs,
  installDependencies: false,
  replicas: { leaseTtlMs },
});
const handler = createHandler(reconciler, { tokens: ["t"] });
const server = createServer((req, res) => {
  if (req.url === "/ping") {
    res.end("pong");
    return;
  }
  if (req.url?.startsWith("/loop")) {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6 }));
    if (req.url.includes("reset=1")) loop.reset();
    return;
  }
  handler(req, res);
});
reconciler.start();
server.listen(0, "127.0.0.1", () => {
  const member = reconciler.replicaStats()?.member;
  process.stdout.write(`${JSON.stringify({ port: server.address().port, member })}\n`);
});
process.once("SIGTERM", async () => {
  handler.close();
  server.close();
  server.closeAllConnections();
  await reconciler.stop({ graceMs: 1000 });
  process.exit(0);
});
