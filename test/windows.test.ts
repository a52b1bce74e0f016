// Change windows with the real Pulumi engine and real git: a commit pushed
// while a deny window is open waits for it to close and the reconciler applies
// it on its own when it does; an override applies inside a deny window.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ChangeWindows,
  checkWindows,
  PulumiEngine,
  Reconciler,
  type ReconcilerEvents,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

/**
 * How long the deny window the test waits out stays open. It must outlast the
 * run that is deferred (resolve, checkout, preview), so it is sized from how
 * long the startup run took to plan on this machine, within these bounds.
 */
const WAITED_WINDOW_MIN_MS = 15_000;
const WAITED_WINDOW_MAX_MS = 60_000;
/** A deny window the test never waits out (it is still open when the file ends). */
const LONG_WINDOW_MS = 300_000;

const siteJson = (index: string) => JSON.stringify({ "index.html": index, "about.html": "<p>about</p>" });

/**
 * A deny window that opened at the current whole second and stays open for
 * `durationMs`: a 6-field (seconds) cron for today's date and time of day in
 * UTC, so it ticks once a year whenever the test runs.
 */
function denyWindowFromNow(durationMs: number): { windows: ChangeWindows; closes: Date } {
  const opened = new Date(Math.floor(Date.now() / 1000) * 1000);
  const expr = [
    opened.getUTCSeconds(),
    opened.getUTCMinutes(),
    opened.getUTCHours(),
    opened.getUTCDate(),
    opened.getUTCMonth() + 1,
    "*",
  ].join(" ");
  return {
    windows: { deny: [expr], duration: `${durationMs / 1000}s`, timezone: "UTC" },
    closes: new Date(opened.getTime() + durationMs),
  };
}

/** When a run's log first says `[step] text…` (each log line starts with its ISO time). */
function stepAt(log: string, step: string, text = ""): number {
  const line = log.split("\n").find((l) => l.includes(` [${step}] ${text}`));
  if (!line) throw new Error(`no "[${step}] ${text}" line in the run log:\n${log}`);
  return Date.parse(line.slice(0, line.indexOf(" ")));
}

describe("change windows with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let first: string;
  /** The commit pushed inside the deny window, and when that window closes. */
  let second: string;
  let waitedWindowCloses: Date;
  /** How long the startup run took from resolving the ref to its plan. */
  let planMs: number;
  const finished: ReconcilerEvents["run.finished"][] = [];

  // Two stacks of the same program: `site` waits for its window to close;
  // `hotfix`, added later, is first deployed by an override while `site` waits.
  type Name = "site" | "hotfix";
  const outDir = (name: Name) => join(sandbox.dir, "out", name);
  const page = (name: Name) => readFileSync(join(outDir(name), "index.html"), "utf8");
  const ready = async (name: Name) =>
    (await reconciler.status(name)).conditions.find((c) => c.type === "Ready");

  const spec = (name: Name, windows?: ChangeWindows): TargetSpec => ({
    name,
    repo: repo.fileUrl,
    ref: "main",
    stack: name,
    passphrase: "test-passphrase",
    config: { outDir: outDir(name) },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    // Long enough that only the window's own timer can apply a deferred change.
    interval: "1h",
    resync: "1h",
    jitter: 0,
    // The windows are under test, not drift: no refresh keeps each engine run short.
    refresh: false,
    ...(windows ? { windows } : {}),
  });

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-windows-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    first = repo.commit({ "site.json": siteJson("<h1>v1</h1>") }, "site v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine: new PulumiEngine(),
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec("site")],
    });
    reconciler.on("run.finished", (e) => finished.push(e));
    // Scheduling runs from the start, as in production: the startup run applies
    // v1 (no windows yet), and the deferred run below arms the window timer.
    reconciler.start();
    const startup = await until(
      () => finished.find((e) => e.target === "site" && e.revision === first && e.result === "applied"),
      "the startup run to apply v1",
      120_000,
    );
    expect(page("site")).toBe("<h1>v1</h1>");
    const log = (await reconciler.run(startup.runId))?.log ?? "";
    planMs = stepAt(log, "preview", "plan:") - stepAt(log, "resolve");
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("defers a commit pushed while a deny window is open", async () => {
    // Twice the startup run's planning time plus slack, in whole seconds.
    const windowMs =
      Math.ceil(Math.min(WAITED_WINDOW_MAX_MS, Math.max(WAITED_WINDOW_MIN_MS, 2 * planMs + 5000)) / 1000) *
      1000;
    const { windows, closes } = denyWindowFromNow(windowMs);
    waitedWindowCloses = closes;
    reconciler.addTarget(spec("site", windows));
    second = repo.commit({ "site.json": siteJson("<h1>v2</h1>") }, "v2");

    const run = await reconciler.reconcile("site", { trigger: "webhook", force: false });
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "deferred", revision: second, trigger: "webhook" });
    // Planned (the preview ran) but not applied.
    expect(run.counts).toMatchObject({ update: 1, same: 1 });
    expect(run.log).toContain(`inside a deny window; changes wait until ${closes.toISOString()}`);
    expect(run.log).not.toContain("[apply]");
    expect(stepAt(run.log, "window")).toBeLessThan(closes.getTime());
    expect(finished.at(-1)).toMatchObject({ target: "site", runId: run.id, result: "deferred" });

    const status = await reconciler.status("site");
    expect(await ready("site")).toMatchObject({ status: false, reason: "OutsideChangeWindow" });
    expect((await ready("site"))?.message).toBe(
      `revision ${second} waits for its change window, which opens at ${closes.toISOString()}`,
    );
    expect(status.deferredUntil).toBe(closes.toISOString());
    expect(status.lastAppliedRevision).toBe(first);
    expect(status.lastAttemptedRevision).toBe(second);
    expect(page("site")).toBe("<h1>v1</h1>");
    expect((await reconciler.history("site"))[0]).toMatchObject({
      id: run.id,
      result: "deferred",
      trigger: "webhook",
    });

    // A scheduled check of the same revision waits for the window instead of planning again.
    const check = await reconciler.reconcile("site", { trigger: "interval", force: false });
    expect(check.result).toBe("skipped");
    expect((await reconciler.history("site"))[0]?.id).toBe(run.id);
    expect(page("site")).toBe("<h1>v1</h1>");
  });

  it("applies inside a deny window with an override and records who and why", async () => {
    const { windows, closes } = denyWindowFromNow(LONG_WINDOW_MS);
    // Added while scheduling runs: no startup run, nothing runs until asked.
    reconciler.addTarget(spec("hotfix", windows));
    expect(existsSync(join(outDir("hotfix"), "index.html"))).toBe(false);
    const resolved = reconciler.target("hotfix")?.windows;
    expect(resolved).toBeDefined();
    expect(checkWindows(resolved!, new Date())).toMatchObject({ open: false, blockedBy: "deny" });

    const override = { by: "alice@example.com", reason: "hotfix for INC-42" };
    const run = await reconciler.reconcile("hotfix", { override });
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ result: "applied", revision: second, trigger: "manual", override });
    expect(run.counts).toMatchObject({ create: 2 });
    expect(run.log).toContain("[window] change window overridden by alice@example.com: hotfix for INC-42");
    // The window was still closed to changes when the run passed it.
    expect(stepAt(run.log, "window")).toBeLessThan(closes.getTime());
    expect(page("hotfix")).toBe("<h1>v2</h1>");

    // The history row, read back from the store, says who and why.
    expect((await reconciler.history("hotfix"))[0]).toMatchObject({
      id: run.id,
      result: "applied",
      trigger: "manual",
      override,
    });
    expect((await reconciler.run(run.id))?.override).toEqual(override);
    expect(await reconciler.history("hotfix")).toHaveLength(1);
    expect((await reconciler.status("hotfix")).lastAppliedRevision).toBe(second);
    expect(await ready("hotfix")).toMatchObject({ status: true, reason: "Applied" });
    // The override is for that run only: `site` is still waiting with no override on record.
    expect((await reconciler.history("site")).some((r) => r.override)).toBe(false);
  });

  it("applies the deferred commit on its own when the window closes", async () => {
    const applied = await until(
      () => finished.find((e) => e.target === "site" && e.revision === second && e.result === "applied"),
      "the run at the window's close",
      Math.max(0, waitedWindowCloses.getTime() - Date.now()) + 60_000,
    );
    expect(applied.error).toBeUndefined();
    expect(applied.counts).toMatchObject({ update: 1, same: 1 });
    expect(page("site")).toBe("<h1>v2</h1>");

    const row = (await reconciler.history("site"))[0];
    expect(row).toMatchObject({
      id: applied.runId,
      result: "applied",
      revision: second,
      trigger: "schedule",
    });
    expect(row?.override).toBeUndefined();
    expect(Date.parse(row?.startedAt ?? "")).toBeGreaterThanOrEqual(waitedWindowCloses.getTime());
    // One run between the deferral and the apply, none planning v2 again inside the window.
    expect((await reconciler.history("site")).map((r) => [r.trigger, r.result])).toEqual([
      ["schedule", "applied"],
      ["webhook", "deferred"],
      ["startup", "applied"],
    ]);

    const status = await reconciler.status("site");
    expect(await ready("site")).toMatchObject({ status: true, reason: "Applied" });
    expect(status.deferredUntil).toBeUndefined();
    expect(status.lastAppliedRevision).toBe(second);
  });
});
