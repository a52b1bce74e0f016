// Run by `make test` after the suite: fails, naming them, when processes the
// suite started are still running 10 s after it ended — anything that runs in,
// names or inherited a test's temporary directory (every test sandbox is a
// `driftless-*` directory under the system's temp dir), or that carries the
// engine tag the reconciler sets on the processes of a run.
//
// Usage: node --import tsx scripts/check-leftovers.ts <suite start, seconds since the epoch>
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeProcesses, leftoverProcesses } from "../test/support/processes.js";

const startedAfter = Number(process.argv[2]);
if (!Number.isFinite(startedAfter)) {
  console.error("usage: check-leftovers.ts <suite start, seconds since the epoch>");
  process.exit(64);
}
const left = await leftoverProcesses({
  paths: [join(tmpdir(), "driftless-")],
  env: ["DRIFTLESS_ENGINE"],
  startedAfter,
});
if (left.length > 0) {
  console.error(
    `== ${left.length} process(es) started by the tests are still running:\n${describeProcesses(left)}`,
  );
  process.exit(1);
}
console.error("== no process left behind by the tests");
