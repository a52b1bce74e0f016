import { writeFileSync } from "node:fs";
import { checkApprovalRequest } from "../pipelines/approvals.js";
import type { Reconciler } from "../reconciler.js";
import { previewMarkdown, previewReport } from "../run/report.js";
import type { RunRecord } from "../store/store.js";
import type { DriftlessConfig } from "./config.js";
import { cliLogger, interruptSignal, openReconciler } from "./context.js";
import { type CliIO, EXIT, progressLine } from "./output.js";

/** Options of `driftless reconcile`. */
export interface ReconcileCommandOptions {
  readonly json?: boolean;
}

/** Options of `driftless preview`. */
export interface PreviewCommandOptions {
  readonly ref: string;
  readonly json?: boolean;
  readonly out?: string;
}

function exitFor(run: RunRecord): number {
  switch (run.result) {
    // Changes exist that this run did not apply: drift in detect mode, a plan
    // held for approval, or one waiting for its change window.
    case "drift-detected":
    case "awaiting-approval":
    case "deferred":
      return EXIT.changes;
    case "cancelled":
    case "interrupted":
      return EXIT.cancelled;
    case "failed":
    case "stalled":
      return EXIT.failed;
    default:
      return run.result === undefined ? EXIT.failed : EXIT.ok;
  }
}

function summary(run: RunRecord): string {
  const counts = run.counts
    ? (["create", "update", "replace", "delete"] as const)
        .filter((k) => (run.counts?.[k] ?? 0) > 0)
        .map((k) => `${run.counts?.[k]} ${k}`)
        .join(", ") || "no changes"
    : "";
  const revision = run.revision ? ` at ${run.revision.slice(0, 12)}` : "";
  const error = run.error ? `\n${run.error}` : "";
  return `${run.target}: ${run.result}${revision}${counts ? ` (${counts})` : ""}${error}\n`;
}

/**
 * Opens the configured reconciler for one command on one target, with Ctrl-C
 * wired to cancel, and always stops it afterwards.
 */
async function onTarget(
  config: DriftlessConfig,
  name: string,
  io: CliIO,
  work: (reconciler: Reconciler, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const reconciler = await openReconciler(config, cliLogger("warn"));
  const interrupt = interruptSignal();
  try {
    if (!reconciler.target(name)) {
      io.err.write(`unknown target "${name}" in ${config.file}\n`);
      return EXIT.failed;
    }
    return await work(reconciler, interrupt.signal);
  } finally {
    interrupt.dispose();
    await reconciler.stop({ graceMs: 0 });
  }
}

/** `driftless reconcile <target>`: one run now, progress on stderr. */
export function reconcileCommand(
  config: DriftlessConfig,
  name: string,
  options: ReconcileCommandOptions,
  io: CliIO,
): Promise<number> {
  return onTarget(config, name, io, async (reconciler, signal) => {
    reconciler.on("run.progress", (event) => io.err.write(`${progressLine(event)}\n`));
    const run = await reconciler.reconcile(name, { trigger: "manual", signal });
    io.out.write(options.json ? `${JSON.stringify(run, null, 2)}\n` : summary(run));
    return exitFor(run);
  });
}

/** Options of `driftless promote`, `rollback` and `approve`. */
export interface MoveCommandOptions {
  /** Revision (SHA or unique prefix); the method's default when absent. */
  readonly revision?: string;
  /** Who asks; recorded with the promotion, rollback or approval. */
  readonly by?: string;
  /** Why; recorded (required by promote, rollback and approve on the command line). */
  readonly reason?: string;
  readonly json?: boolean;
}

/**
 * `driftless promote|rollback|approve <target>`: moves the target (or releases
 * its held plan) and waits for the run that applies it, progress on stderr.
 */
export function moveCommand(
  config: DriftlessConfig,
  name: string,
  action: "promote" | "rollback" | "approve",
  options: MoveCommandOptions,
  io: CliIO,
): Promise<number> {
  return onTarget(config, name, io, async (reconciler, signal) => {
    reconciler.on("run.progress", (event) =>
      io.err.write(`${progressLine(event)}
`),
    );
    const queued =
      action === "approve"
        ? await reconciler.approve(
            name,
            checkApprovalRequest(name, {
              by: options.by,
              reason: options.reason,
              ...(options.revision ? { revision: options.revision } : {}),
            }),
          )
        : await reconciler[action](name, {
            by: options.by ?? "",
            reason: options.reason ?? "",
            ...(options.revision ? { revision: options.revision } : {}),
          });
    if (action !== "approve") {
      const promotion = (await reconciler.promotions(name, 1))[0];
      if (promotion) {
        io.err.write(
          `${action === "promote" ? "promoted" : "rolled back"} ${name} to ${promotion.revision.slice(0, 12)} (from ${promotion.previousRevision?.slice(0, 12) ?? "nothing"})\n`,
        );
      }
    }
    const interrupted = new Promise<undefined>((resolve) => {
      if (signal.aborted) resolve(undefined);
      signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    const run = await Promise.race([queued.done, interrupted]);
    if (!run) {
      io.err.write(`${action} interrupted; the run is cancelled\n`);
      return EXIT.cancelled;
    }
    io.out.write(options.json ? `${JSON.stringify(run, null, 2)}\n` : summary(run));
    return exitFor(run);
  });
}

/** `driftless preview <target> --ref <ref>`: plans a ref without applying it. */
export function previewCommand(
  config: DriftlessConfig,
  name: string,
  options: PreviewCommandOptions,
  io: CliIO,
): Promise<number> {
  return onTarget(config, name, io, async (reconciler, signal) => {
    try {
      const preview = await reconciler.previewRef(name, options.ref, {
        signal,
        onProgress: (step, message) => io.err.write(`[${step}] ${message.trim()}\n`),
      });
      const text = options.json
        ? `${JSON.stringify(previewReport(preview), null, 2)}\n`
        : previewMarkdown(preview);
      if (options.out) writeFileSync(options.out, text);
      else io.out.write(text);
      return preview.plan.changes ? EXIT.changes : EXIT.ok;
    } catch (error) {
      if (signal.aborted) {
        io.err.write("preview cancelled\n");
        return EXIT.cancelled;
      }
      throw error;
    }
  });
}

/** `driftless suspend|resume <target>`: stops or restarts its scheduled runs, recording who and why. */
export function suspendCommand(
  config: DriftlessConfig,
  name: string,
  action: "suspend" | "resume",
  options: { readonly by: string; readonly reason: string; readonly json?: boolean },
  io: CliIO,
): Promise<number> {
  return onTarget(config, name, io, async (reconciler) => {
    const status = await reconciler[action](name, { by: options.by, reason: options.reason });
    const verb = action === "suspend" ? "suspended" : "resumed";
    io.out.write(
      options.json
        ? `${JSON.stringify(status, null, 2)}\n`
        : `${name}: scheduled runs ${verb} by ${options.by}: ${options.reason}\n`,
    );
    return EXIT.ok;
  });
}
