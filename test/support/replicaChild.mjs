// One replica: a Reconciler with `replicas` on a shared store, started and
// kept running until SIGTERM. argv[2]: JSON { dataDir, store, targets,
// replicas }. Prints JSON lines on stdout: `ready` with its member id, each
// run's start and end. Reads JSON commands on stdin, one a line:
// { "reconcile": "<target>" } answers { "event": "queued", target, id }.
import { createInterface } from "node:readline";
import { Reconciler } from "@driftless/gitops";
import { pino } from "pino";

const { dataDir, store, targets, replicas } = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const reconciler = await Reconciler.create({
  dataDir,
  store,
  targets,
  replicas,
  installDependencies: false,
  concurrency: 2,
  logger: pino({ level: "info", base: { pid: process.pid } }, pino.destination(2)),
});
reconciler.on("run.started", (e) => print({ event: "started", target: e.target, runId: e.runId }));
reconciler.on("run.finished", (e) =>
  print({
    event: "finished",
    target: e.target,
    runId: e.runId,
    result: e.result,
    revision: e.revision,
    error: e.error,
  }),
);
reconciler.start();
print({ event: "ready", member: reconciler.replicaStats()?.member, pid: process.pid });

createInterface({ input: process.stdin }).on("line", async (line) => {
  const command = JSON.parse(line);
  try {
    const run = await reconciler.request(command.reconcile, { trigger: "webhook", force: false });
    print({ event: "queued", target: run.target, id: run.id });
  } catch (error) {
    print({ event: "refused", target: command.reconcile, error: error.message });
  }
});

process.once("SIGTERM", async () => {
  await reconciler.stop({ graceMs: 5000 });
  process.exit(0);
});
