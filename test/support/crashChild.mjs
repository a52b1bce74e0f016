// Runs one reconcile in its own process so a test can SIGKILL it mid-update.
// argv[2]: JSON { dataDir, target, store? }. Prints "ENGINE <op> <urn>" for each
// resource step so the parent knows when the engine is inside `up`.
import { Reconciler } from "@driftless/gitops";

const { dataDir, target, store } = JSON.parse(process.argv[2]);
const reconciler = await Reconciler.create({
  dataDir,
  targets: [target],
  installDependencies: false,
  ...(store ? { store } : {}),
});
reconciler.on("run.progress", (event) => {
  if (event.step === "apply") console.log(`STEP ${event.message}`);
  if (event.engine?.kind === "resource" && !event.engine.done)
    console.log(`ENGINE ${event.engine.op} ${event.engine.urn}`);
});
const run = await reconciler.reconcile(target.name);
console.log(`RESULT ${run.result}`);
await reconciler.stop();
