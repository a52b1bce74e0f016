/** Webhook routes by provider: GitHub, GitLab and the generic signed push. */

import { githubPullRequest } from "../pullRequest.js";
import { genericPush, githubPush, gitlabPush } from "../push.js";
import { type Api, header, json, type Route } from "../router.js";
import { safeEqual, verifyGenericSignature, verifyGithubSignature } from "../signatures.js";
import { ignored, onPullRequest, onPush } from "./push.js";
import { type Webhooks, webhookBody } from "./webhooks.js";

export function hookRoutes(api: Api, hooks: Webhooks): Route[] {
  return [
    {
      method: "POST",
      pattern: /^\/hooks\/github$/,
      auth: "none",
      handle: async (ctx) => {
        const signature = header(ctx.req, "x-hub-signature-256");
        const read = await webhookBody(api, hooks, ctx, "github", (secret, body) =>
          verifyGithubSignature(secret, body, signature),
        );
        if ("status" in read) return read;
        const event = header(ctx.req, "x-github-event");
        if (event === "ping") {
          api.metrics.webhook("github", "ignored");
          return json(200, { pong: true });
        }
        if (event === "pull_request") {
          return onPullRequest(
            api,
            hooks,
            header(ctx.req, "x-github-delivery"),
            githubPullRequest(read.payload),
          );
        }
        if (event !== "push") return ignored(api, "github", event);
        return onPush(api, hooks, "github", header(ctx.req, "x-github-delivery"), githubPush(read.payload));
      },
    },
    {
      method: "POST",
      pattern: /^\/hooks\/gitlab$/,
      auth: "none",
      handle: async (ctx) => {
        const token = header(ctx.req, "x-gitlab-token");
        const read = await webhookBody(api, hooks, ctx, "gitlab", (secret) => safeEqual(secret, token));
        if ("status" in read) return read;
        const event = header(ctx.req, "x-gitlab-event");
        if (event !== "Push Hook" && event !== "Tag Push Hook") return ignored(api, "gitlab", event);
        return onPush(api, hooks, "gitlab", header(ctx.req, "x-gitlab-event-uuid"), gitlabPush(read.payload));
      },
    },
    {
      method: "POST",
      pattern: /^\/hooks\/generic$/,
      auth: "none",
      handle: async (ctx) => {
        const signature = header(ctx.req, "x-signature");
        const read = await webhookBody(api, hooks, ctx, "generic", (secret, body) =>
          verifyGenericSignature(secret, body, signature),
        );
        if ("status" in read) return read;
        return onPush(api, hooks, "generic", header(ctx.req, "x-delivery-id"), genericPush(read.payload));
      },
    },
  ];
}
