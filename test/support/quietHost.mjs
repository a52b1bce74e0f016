// A host process embedding a reconciler without a logger of its own (see
// test/quiet.test.ts). argv[2]: JSON { dataDir, target }. Runs the target once
// and writes only "HOST-RESULT <result>" to stderr.
import { Reconciler } from "@driftless/gitops";

const { dataDir, target } = JSON.parse(process.argv[2]);
const reconciler = await Reconciler.create({ dataDir, targets: [target], installDependencies: false });
const run = await reconciler.reconcile(target.name);
await reconciler.stop();
process.stderr.write(`HOST-RESULT ${run.result}\n`);
