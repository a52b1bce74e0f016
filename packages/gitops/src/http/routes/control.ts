/**
 * Control routes: reconcile, approve, promote, rollback, suspend and resume
 * (each with who and why). Errors map to status codes by type (see `errorReply`).
 */
import type { IncomingMessage } from "node:http";
import { StalledError } from "../../errors.js";
import { checkApprovalRequest } from "../../pipelines/approvals.js";
import type { PromotionRequest } from "../../pipelines/promotion.js";
import { previewMarkdown, previewReport } from "../../run/report.js";
import { isShaPrefix } from "../../util.js";
import { mountOf } from "../mount.js";
import {
  type Api,
  fail,
  json,
  type Reply,
  type RequestContext,
  type Route,
  readJsonObject,
  unknownTarget,
} from "../router.js";

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
   * `POST /targets/:name/promote|rollback` with `{ "by", "reason", "revision"? }`.
   * The reply has the `promotion` recorded when this process carried the
   * command out; a replica that hands it to the target's owner answers
   * without one (the owner records it), never with an earlier promotion.
   */
  const move =
    (action: "promote" | "rollback") =>
    async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> => {
      const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ` with "by" and "reason"`));
      if ("status" in read) return read;
      const before = (await reconciler.promotions(name, 1))[0]?.id;
      const run = await reconciler[action](name, read.body as unknown as PromotionRequest);
      const latest = (await reconciler.promotions(name, 1))[0];
      const recorded =
        latest && latest.id !== before && latest.kind === (action === "promote" ? "manual" : "rollback");
      return accepted(req, name, run.id, recorded ? { promotion: latest } : {});
    };

  /**
   * `POST /targets/:name/approve` with `{ "revision"?, "by", "reason" }` (the
   * rule the CLI and dashboard follow, `checkApprovalRequest`); 409 when nothing waits.
   */
  const approve = async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> => {
    const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ""));
    if ("status" in read) return read;
    const { revision, by, reason } = read.body;
    if (revision !== undefined && (typeof revision !== "string" || !isShaPrefix(revision))) {
      return fail(400, `revision must be a commit SHA, got ${JSON.stringify(revision)}`);
    }
    const run = await reconciler.approve(name, checkApprovalRequest(name, { revision, by, reason }));
    return accepted(req, name, run.id);
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

  /** `POST /targets/:name/suspend|resume` with an optional `{ "by", "reason" }` (both or neither). */
  const suspension =
    (action: "suspend" | "resume") =>
    async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> => {
      const read = unknownTarget(api, name) ?? (await readJsonObject(api, req, ` with "by" and "reason"`));
      if ("status" in read) return read;
      const { by, reason } = read.body;
      return json(
        200,
        await reconciler[action](name, {
          ...(by !== undefined ? { by: by as string } : {}),
          ...(reason !== undefined ? { reason: reason as string } : {}),
        }),
      );
    };

  const command =
    (act: (name: string, req: IncomingMessage) => Promise<Reply>) =>
    async ({ req, params: [name = ""] }: RequestContext): Promise<Reply> =>
      unknownTarget(api, name) ?? act(name, req);

  return [
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/reconcile$/,
      auth: "control",
      audit: "reconcile",
      handle: command(async (name, req) =>
        accepted(req, name, (await reconciler.request(name, { trigger: "manual" })).id),
      ),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/approve$/,
      auth: "control",
      audit: "approve",
      handle: approve,
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/preview$/,
      auth: "control",
      audit: "preview",
      handle: preview,
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/promote$/,
      auth: "control",
      audit: "promote",
      handle: move("promote"),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/rollback$/,
      auth: "control",
      audit: "rollback",
      handle: move("rollback"),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/suspend$/,
      auth: "control",
      audit: "suspend",
      handle: suspension("suspend"),
    },
    {
      method: "POST",
      pattern: /^\/targets\/([^/]+)\/resume$/,
      auth: "control",
      audit: "resume",
      handle: suspension("resume"),
    },
  ];
}
