#!/usr/bin/env node
// Prints line coverage per package from vitest's json-summary, and fails when
// @driftless/core drops below its 90% floor; then the test count as one plain
// closing line ("tests: N passed, N failed") that any CI can read.
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";

const FLOORS = { "packages/core": 90 };
const summary = JSON.parse(readFileSync("coverage/coverage-summary.json", "utf8"));
const totals = {};
for (const [file, figures] of Object.entries(summary)) {
  if (file === "total") continue;
  const pkg = relative(process.cwd(), file).split("/").slice(0, 2).join("/");
  totals[pkg] ??= { covered: 0, total: 0 };
  totals[pkg].covered += figures.lines.covered;
  totals[pkg].total += figures.lines.total;
}
let failed = false;
for (const [pkg, { covered, total }] of Object.entries(totals).sort()) {
  const pct = total ? (covered / total) * 100 : 100;
  const floor = FLOORS[pkg];
  const verdict =
    floor === undefined ? "" : pct >= floor ? ` (floor ${floor}%: ok)` : ` (floor ${floor}%: BELOW)`;
  if (floor !== undefined && pct < floor) failed = true;
  console.log(`coverage ${pkg}: ${pct.toFixed(1)}% of ${total} lines${verdict}`);
}
if (existsSync(".toolchain/vitest-results.json")) {
  const run = JSON.parse(readFileSync(".toolchain/vitest-results.json", "utf8"));
  console.log(`tests: ${run.numPassedTests} passed, ${run.numFailedTests} failed`);
}
process.exit(failed ? 1 : 0);
