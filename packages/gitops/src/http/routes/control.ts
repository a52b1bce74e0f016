/**
 * Control routes: reconcile, approve, promote, rollback, suspend and resume
 * (each with why; who is the caller's identity). Each declares its action on
 * the target, which the router checks. Errors map to status codes by type
 * (see `errorReply`).
 */
import type { IncomingMessage } from "node:http";
import { StalledError } from "../../errors.js";
import { checkApprovalRequest } from "../../pipelines/approvals.js";
import type { PromotionRequest } from "../../pipelines/promotion.js";
import { previewMarkdown, previewReport } from "../../run/report.js";
import { isShaPrefix } from "../../util.js";
import { fourEyesRefusal } from "../auth/fourEyes.js";
import type { Action } from "../auth/identity.js";
import { type RecordedBy, recordedBy } from "../auth/who.js";
import { mountOf } from "../mount.js";
import {
  type Api,
  fail,
  json,
  namedTarget,
  type Reply,
  type RequestContext,
  type Route,
  readJsonObject,
  unknownTarget,
} from "../router.js";

/** `by` for a request: from its identity; a body's `by` is refused unless an admin sends it (then "on behalf of"). */
export function byOf(ctx: RequestContext, body: Readonly<Record<string, unknown>>): RecordedBy | Reply {
  if (!ctx.identity) return fail(401, "a valid bearer token is required");
  const who = recordedBy(ctx.identity, body.by, ctx.may("admin"));
  return typeof who === "string" ? fail(400, who) : who;
}

export function controlRoutes(api: Api): Route[] {
  const { reconciler, prefix } = api;
  const accepted = (
    req: IncomingMessage,
    name: string,
    runId: string,
    extra: Record<string, unknown> = {},
  ): Reply =>
    json(202, { target: name, runId, ...extra }, { location: `${mountOf(req, prefix)}/runs/${runId}` });

  /**
   * `POST /targets/:name/promote|rollback` with `{ "reason", "revision"? }`.
   * The reply has the `promotion` recorded when this process carried the
   * command out; a replica that hands it to the target's owner answers
   * without one (the owner records it), never with an earlier promotion.
   */
  const move =
    (action: "promote" | "rollback") =>
    async (ctx: RequestContext): Promise<Reply> => {
      const {
        req,
        params: [name = ""],
      } = ctx;
      const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ` with "reason"`));
      if ("status" in read) return read;
      const who = byOf(ctx, read.body);
      if ("status" in who) return who;
      const before = (await reconciler.promotions(name, 1))[0]?.id;
      const run = await reconciler[action](name, { ...read.body, ...who } as unknown as PromotionRequest);
      const latest = (await reconciler.promotions(name, 1))[0];
      const recorded =
        latest && latest.id !== before && latest.kind === (action === "promote" ? "manual" : "rollback");
      return accepted(req, name, run.id, {
        by: who.by,
        ...(who.onBehalfOf ? { onBehalfOf: who.onBehalfOf } : {}),
        ...(recorded ? { promotion: latest } : {}),
      });
    };

  /**
   * `POST /targets/:name/approve` with `{ "revision"?, "reason" }` (the rule
   * the CLI and dashboard follow, `checkApprovalRequest`); 409 when nothing
   * waits, 403 when the target wants four eyes and the caller wrote the revision.
   */
  const approve = async (ctx: RequestContext): Promise<Reply> => {
    const {
      req,
      params: [name = ""],
    } = ctx;
    const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ""));
    if ("status" in read) return read;
    const { revision, reason } = read.body;
    if (revision !== undefined && (typeof revision !== "string" || !isShaPrefix(revision))) {
      return fail(400, `revision must be a commit SHA, got ${JSON.stringify(revision)}`);
    }
    const who = byOf(ctx, read.body);
    if ("status" in who) return who;
    const request = checkApprovalRequest(name, { revision, reason, ...who });
    const refused = ctx.identity && (await fourEyesRefusal(reconciler, name, ctx.identity, request.revision));
    if (refused) return fail(403, refused);
    const run = await reconciler.approve(name, request);
    return accepted(req, name, run.id, {
      by: who.by,
      ...(who.onBehalfOf ? { onBehalfOf: who.onBehalfOf } : {}),
    });
  };

  /**
   * `POST /targets/:name/preview` with `{ "ref" }`: plans the ref against the
   * stack now (in an engine slot, nothing applied) and answers with the JSON
   * report plus its Markdown; 422 with the error when the program fails.
   */
  const preview = async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> => {
    const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ` with "ref"`));
    if ("status" in read) return read;
    const { ref } = read.body;
    if (typeof ref !== "string" || ref.trim() === "") {
      return fail(400, `ref must be a branch, tag, ref or commit SHA, got ${JSON.stringify(ref)}`);
    }
    try {
      const planned = await reconciler.previewRef(name, ref.trim());
      return json(200, { ...previewReport(planned), markdown: previewMarkdown(planned) });
    } catch (error) {
      if (error instanceof StalledError) return fail(422, error.message);
      throw error;
    }
  };

  /** `POST /targets/:name/suspend|resume` with `{ "reason" }`; who is the caller. */
  const suspension =
    (action: "suspend" | "resume") =>
    async (ctx: RequestContext): Promise<Reply> => {
      const {
        req,
        params: [name = ""],
      } = ctx;
      const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ` with "reason"`));
      if ("status" in read) return read;
      const who = byOf(ctx, read.body);
      if ("status" in who) return who;
      const { reason } = read.body;
      return json(200, await reconciler[action](name, { ...who, reason: reason as string }));
    };

  const command =
    (act: (name: string, req: IncomingMessage, identity: RequestContext["identity"]) => Promise<Reply>) =>
    async ({ req, params: [name = ""], identity }: RequestContext): Promise<Reply> =>
      unknownTarget(api, name) ?? act(name, req, identity);

  const on = (action: Action, handle: Route["handle"]): Route => ({
    method: "POST",
    pattern: new RegExp(`^/targets/([^/]+)/${action}$`),
    auth: action,
    target: namedTarget,
    audit: action,
    handle,
  });
  return [
    on(
      "reconcile",
      command(async (name, req, identity) => {
        // Who asked is kept with a plan the run holds: four eyes refuses their approval.
        const run = await reconciler.request(name, {
          trigger: "manual",
          ...(identity ? { requestedBy: identity.id } : {}),
        });
        return accepted(req, name, run.id);
      }),
    ),
    on("approve", approve),
    on("preview", preview),
    on("promote", move("promote")),
    on("rollback", move("rollback")),
    on("suspend", suspension("suspend")),
    on("resume", suspension("resume")),
  ];
}
