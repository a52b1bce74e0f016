// The dashboard's actions on a target (reconcile, approve, suspend, …): a
// confirmation page, and the form it sends, one route per action so the
// router checks exactly that action on the target.
import type { Logger } from "pino";
import { checkApprovalRequest } from "../../pipelines/approvals.js";
import type { Reconciler } from "../../reconciler.js";
import { isShaPrefix } from "../../util.js";
import { fourEyesRefusal } from "../auth/fourEyes.js";
import { recordedBy } from "../auth/who.js";
import { errorReply, namedTarget, type Reply, type RequestContext, type Route } from "../router.js";
import type { UiDeps } from "./deps.js";
import { ACTIONS, type Action, confirmPage } from "./forms.js";

/** What the action routes need: the dashboard's helpers, the reconciler they act on, and where they log. */
export interface ActionDeps extends UiDeps {
  readonly reconciler: Reconciler;
  readonly log: Logger | undefined;
}

/** An action the router allowed: the CSRF token, then who (the identity) and why. */
async function act(deps: ActionDeps, ctx: RequestContext, name: string, action: Action): Promise<Reply> {
  const { reconciler, page, redirect, form, csrfRefusal, viewOf, refused, notFound, baseOf } = deps;
  const { req } = ctx;
  const view = await viewOf(req, ctx.may);
  const fields = await form(req);
  if (!(fields instanceof URLSearchParams)) return fields;
  const forged = await csrfRefusal(req, view.session, fields);
  if (forged) return forged;
  const target = reconciler.target(name);
  if (!target) return notFound(req, `Target "${name}"`);
  if (!ctx.identity) return refused(req, "Log in to act on targets.", 401);
  const recorded = recordedBy(ctx.identity, fields.get("by")?.trim() || undefined, ctx.may("admin"));
  if (typeof recorded === "string") {
    return page(await confirmPage(view, reconciler, target, action, recorded), 400);
  }
  const reason = fields.get("reason")?.trim() || undefined;
  const revision = fields.get("revision")?.trim() || undefined;
  if (revision !== undefined && !isShaPrefix(revision)) {
    return page(
      await confirmPage(view, reconciler, target, action, `revision must be a commit SHA, got "${revision}"`),
      400,
    );
  }
  const who = {
    ...recorded,
    ...(reason ? { reason } : {}),
    ...(revision ? { revision } : {}),
  };
  if (action === "approve") {
    const fourEyes = await fourEyesRefusal(reconciler, name, ctx.identity, revision);
    if (fourEyes) return page(await confirmPage(view, reconciler, target, action, fourEyes), 403);
  }
  try {
    let runId: string | undefined;
    if (action === "reconcile") {
      runId = (await reconciler.request(name, { trigger: "manual", requestedBy: ctx.identity.id })).id;
    } else if (action === "approve")
      runId = (await reconciler.approve(name, checkApprovalRequest(name, who))).id;
    else if (action === "promote" || action === "rollback") {
      runId = (await reconciler[action](name, who as { by: string; reason: string })).id;
    } else await reconciler[action](name, { ...recorded, ...(reason ? { reason } : {}) });
    deps.log?.info({ target: name, action, ...who }, "dashboard action");
    const to = `${baseOf(req)}/targets/${encodeURIComponent(name)}`;
    return redirect(runId ? `${to}?queued=${encodeURIComponent(runId)}` : to);
  } catch (error) {
    const reply = errorReply(error);
    if (!reply) throw error;
    const message = (reply.body as { error: string }).error;
    return page(await confirmPage(view, reconciler, target, action, message), reply.status);
  }
}

/** The confirmation page and the form of each action in `ACTIONS`. */
export function actionRoutes(deps: ActionDeps): Route[] {
  const { reconciler, ui, page, notFound, viewOf } = deps;
  // One route per action, so the router checks exactly that action on the target.
  return ACTIONS.flatMap((action): Route[] => [
    ui({
      method: "GET",
      pattern: new RegExp(`^/ui/targets/([^/]+)/${action}$`),
      auth: action,
      target: namedTarget,
      handle: async ({ req, params: [name = ""], may }) => {
        const target = reconciler.target(name);
        if (!target) return notFound(req, `Target "${name}"`);
        return page(await confirmPage(await viewOf(req, may), reconciler, target, action));
      },
    }),
    ui({
      method: "POST",
      pattern: new RegExp(`^/ui/targets/([^/]+)/${action}$`),
      auth: action,
      target: namedTarget,
      audit: action,
      handle: async (ctx) => {
        const reply = await act(deps, ctx, ctx.params[0] ?? "", action);
        return ctx.identity ? { ...reply, actor: ctx.identity } : reply;
      },
    }),
  ]);
}
