// A service that embeds a reconciler, as a user's would: a node:http server
// with its own `/ping` route beside Driftless's handler, a reconciler with
// replicas on a PostgreSQL store. argv[2]: JSON { dataDir, store, replicas,
// targets? } (no targets when not given), or `@` and a file holding it.
// Its event loop's delay is measured here (monitorEventLoopDelay) and
// answered on `/loop` (`?reset=1` starts a new phase). Prints one JSON line
// `{ port }` once listening; SIGTERM stops it.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createHandler, Reconciler } from "@driftless/gitops";
import { pino } from "pino";

const arg = process.argv[2];
const {
  dataDir,
  store,
  replicas,
  targets = [],
} = JSON.parse(arg.startsWith("@") ? readFileSync(arg.slice(1), "utf8") : arg);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const reconciler = await Reconciler.create({
  dataDir,
  store,
  replicas,
  targets,
  installDependencies: false,
  logger: pino({ level: process.env.HOST_LOG_LEVEL ?? "error" }, pino.destination(2)),
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
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.once("SIGTERM", async () => {
  handler.close();
  server.close();
  await reconciler.stop({ graceMs: 1000 });
  process.exit(0);
});
