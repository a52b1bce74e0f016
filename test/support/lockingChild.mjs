// One reconciler process for the locking tests. argv[2]: JSON { dataDir,
// storePath?, target }; with storePath the status database is that shared
// file instead of <dataDir>/driftless.db. Prints READY once created, waits for
// a line on stdin (so two processes start together), reconciles once and
// prints "RESULT <run record as JSON>".
import { Reconciler, SqliteStore } from "@driftless/gitops";

const { dataDir, storePath, target } = JSON.parse(process.argv[2]);
const reconciler = await Reconciler.create({
  dataDir,
  targets: [target],
  installDependencies: false,
  ...(storePath ? { store: new SqliteStore(storePath) } : {}),
});
reconciler.on("run.progress", (event) => console.log(`PROGRESS [${event.step}] ${event.message}`));
console.log("READY");
await new Promise((resolve) => process.stdin.once("data", resolve));
process.stdin.destroy();
const run = await reconciler.reconcile(target.name);
console.log(`RESULT ${JSON.stringify(run)}`);
await reconciler.stop();
