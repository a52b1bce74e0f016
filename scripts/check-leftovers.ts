// Run by `make test` after the suite: fails, naming them, when processes the
// suite started are still running 10 s after it ended — anything that runs in,
// names or inherited a test's temporary directory (every test sandbox is a
// `driftless-*` directory under the system's temp dir), or that carries the
// engine tag the reconciler sets on the processes of a run — or when a
// `driftless-*` directory the suite made under the temp dir is still there,
// or a `kubeconfig*` file (upstream's Kubernetes provider writes the
// credentials it is given to a new one under TMPDIR each time it starts; a
// run gives it a directory of its own, removed with the run).
//
// Usage: node --import tsx scripts/check-leftovers.ts <suite start, seconds since the epoch>
import { readdirSync, statSync } from "node:fs";
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
// Every sandbox a test made under the temp dir is gone once the suite ended: one still there was
// forgotten by its test (a data directory named by hand instead of made and removed in afterAll).
const dirs = readdirSync(tmpdir()).filter((name) => {
  if (!name.startsWith("driftless-")) return false;
  const made = statSync(join(tmpdir(), name));
  return (made.birthtimeMs || made.ctimeMs) >= startedAfter * 1000;
});
const kubeconfigs = readdirSync(tmpdir()).filter((name) => {
  if (!name.startsWith("kubeconfig")) return false;
  try {
    const made = statSync(join(tmpdir(), name));
    return (made.birthtimeMs || made.ctimeMs) >= startedAfter * 1000;
  } catch {
    return false; // removed meanwhile
  }
});
if (left.length > 0) {
  console.error(
    `== ${left.length} process(es) started by the tests are still running:\n${describeProcesses(left)}`,
  );
}
if (dirs.length > 0) {
  console.error(
    `== ${dirs.length} directory(ies) the tests made under ${tmpdir()} are still there:\n${dirs.join("\n")}`,
  );
}
if (kubeconfigs.length > 0) {
  console.error(
    `== ${kubeconfigs.length} kubeconfig file(s) the tests' providers wrote under ${tmpdir()} are still there:\n${kubeconfigs.join("\n")}`,
  );
}
if (left.length > 0 || dirs.length > 0 || kubeconfigs.length > 0) process.exit(1);
console.error("== no process, temporary directory or kubeconfig file left behind by the tests");
