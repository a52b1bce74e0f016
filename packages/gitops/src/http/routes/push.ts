/**
 * What a push does: drop repeated deliveries, trigger the targets it concerns
 * (not suspended ones). What a pull request event does: hand it to the previews.
 */
import type { PullRequestEvent } from "../pullRequest.js";
import { matchTargets, type PushEvent } from "../push.js";
import { type Api, fail, json, type Reply } from "../router.js";
import type { Webhooks } from "./webhooks.js";

/** Whether a delivery id was seen lately (and remembers it). */
function repeated(hooks: Webhooks, provider: string, delivery: string | undefined): boolean {
  if (!delivery) return false;
  const key = `${provider}:${delivery}`;
  // `get` marks a repeat as recently used, so a retried delivery stays known.
  if (hooks.deliveries.get(key)) return true;
  hooks.deliveries.set(key, true);
  return false;
}

/** Starts the previews of a pull request event (or stops them when it closed), once per delivery id. */
export function onPullRequest(
  api: Api,
  hooks: Webhooks,
  delivery: string | undefined,
  event: PullRequestEvent | string,
): Reply {
  const { metrics, log, pullRequests } = api;
  if (typeof event === "string") {
    metrics.webhook("github", "invalid");
    return fail(400, event);
  }
  if (!pullRequests) return ignored(api, "github", "pull_request");
  if (repeated(hooks, "github", delivery)) {
    metrics.webhook("github", "duplicate");
    return json(200, { duplicate: true, delivery, previewing: [] });
  }
  const outcome = pullRequests.handle(event);
  const started = outcome.previewing.length + (outcome.reviewStacks?.applying.length ?? 0);
  metrics.webhook("github", started > 0 ? "triggered" : "ignored");
  log?.info(
    { delivery, pull: event.number, action: event.action, previewing: outcome.previewing },
    "pull request received",
  );
  return json(202, {
    event: "pull_request",
    action: event.action,
    number: event.number,
    ...(delivery ? { delivery } : {}),
    ...outcome,
  });
}

/** Triggers the targets a push concerns, once per delivery id. */
export async function onPush(
  api: Api,
  hooks: Webhooks,
  provider: string,
  delivery: string | undefined,
  push: PushEvent | string,
): Promise<Reply> {
  const { reconciler, metrics, log } = api;
  if (typeof push === "string") {
    metrics.webhook(provider, "invalid");
    return fail(400, push);
  }
  if (repeated(hooks, provider, delivery)) {
    metrics.webhook(provider, "duplicate");
    return json(200, { duplicate: true, delivery, triggered: [] });
  }
  const triggered: { target: string; runId: string }[] = [];
  const skipped: { target: string; reason: string }[] = [];
  for (const target of matchTargets(reconciler.targets(), push)) {
    if (reconciler.isSuspended(target.name)) {
      skipped.push({ target: target.name, reason: "suspended" });
      continue;
    }
    try {
      const run = await reconciler.request(target.name, {
        trigger: "webhook",
        force: false,
        ...(push.after ? { pushedRevision: push.after } : {}),
      });
      triggered.push({ target: target.name, runId: run.id });
    } catch (error) {
      skipped.push({ target: target.name, reason: (error as Error).message });
    }
  }
  metrics.webhook(provider, triggered.length > 0 ? "triggered" : "ignored");
  log?.info(
    { provider, delivery, ref: push.ref, triggered: triggered.map((t) => t.target) },
    "push received",
  );
  return json(202, { event: "push", ...(delivery ? { delivery } : {}), triggered, skipped });
}

/** A webhook event that is not a push: acknowledged, nothing triggered. */
export function ignored(api: Api, provider: string, event: string | undefined): Reply {
  api.metrics.webhook(provider, "ignored");
  return json(202, { ignored: true, event: event ?? null });
}
