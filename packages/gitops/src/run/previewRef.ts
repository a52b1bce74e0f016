/**
 * Planning another ref (a branch, a pull request head) against a target's
 * stack without applying it, with the reconcile's own steps
 * (`PREVIEW_REF_STEPS`) on a scratch checkout: no lease, no record.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { PreviewRefOptions, RefPreview } from "../options.js";
import type { PendingRun } from "../schedule/queue.js";
import type { Runtime } from "../schedule/runtime.js";
import { type ResolvedTarget, resolveTarget } from "../spec/spec.js";
import type { RunRecord } from "../types.js";
import { needsApproval } from "./decide.js";
import { checkGates } from "./gates.js";
import { newRunContext, type RunContext, runSteps } from "./run.js";
import { collectSecrets } from "./stackRequest.js";
import { PREVIEW_REF_STEPS } from "./steps.js";

/** Plans `ref` against `spec`'s stack; the scratch checkout (and a stack made for it) is removed. */
export async function previewRef(
  rt: Runtime,
  spec: ResolvedTarget,
  ref: string,
  options: PreviewRefOptions,
): Promise<RefPreview> {
  const { dataDir } = rt.options;
  const resolved = resolveTarget({ name: spec.name, repo: spec.repo, stack: spec.stack, ref }, { dataDir });
  const target: ResolvedTarget = { ...spec, ref: resolved.ref };
  const run: PendingRun = {
    id: randomUUID(),
    requestedAt: rt.options.clock.now(),
    kind: "reconcile",
    trigger: "manual",
    force: true,
    signals: [],
    requestedBy: [],
    done: new Promise<RunRecord>(() => undefined),
    settle: () => undefined,
  };
  const base = newRunContext(
    rt,
    { spec: target, needsRecovery: false, removed: false },
    run,
    options.signal ?? new AbortController().signal,
    () => undefined,
  );
  const onProgress = options.onProgress ?? (() => undefined);
  const checkoutDir = join(dataDir, "previews", `${target.name}-${run.id.slice(0, 8)}`);
  const ctx: RunContext = {
    ...base,
    ephemeral: true,
    checkoutDir,
    progress: (step, message) => onProgress(step, base.redactor.redact(message)),
  };
  collectSecrets(target, ctx.redactor);
  try {
    await runSteps(ctx, PREVIEW_REF_STEPS);
    if (!ctx.revision || !ctx.plan || !ctx.typeCheck)
      throw new Error(`preview of ${ref} ended without a plan`);
    const refusal = checkGates(ctx.plan, target.gates);
    // The live objects its refresh read are for the inventory only: never handed to a caller.
    const { live: _live, ...plan } = ctx.plan;
    return {
      target: target.name,
      ref,
      revision: ctx.revision,
      plan,
      typeCheck: ctx.typeCheck,
      verdict: {
        ...(refusal ? { refusal } : {}),
        needsApproval: target.mode === "apply" && needsApproval(target.requireApproval, ctx.plan),
      },
    };
  } catch (error) {
    // What reaches a pull request or an API caller must not carry the target's secrets.
    if (error instanceof Error) error.message = ctx.redactor.redact(error.message);
    throw error;
  } finally {
    for (const release of ctx.releases.reverse()) await release();
    rmSync(checkoutDir, { recursive: true, force: true });
  }
}
