import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Notifier } from "../notify/notifier.js";
import { type Harness, planOf, REV_B, until, useReconciler } from "../reconciler.test-support.js";
import type { PullRequestEvent } from "./pullRequest.js";
import { PullRequestPreviews } from "./pulls.js";

/** Just enough of Gitea's API v1 for statuses and issue comments, in memory. */
async function fakeGitea() {
  const statuses: { sha: string; state: string; context: string; description: string }[] = [];
  const comments: { id: number; body: string }[] = [];
  const edits: number[] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      const url = req.url ?? "";
      const body = text ? JSON.parse(text) : {};
      res.setHeader("content-type", "application/json");
      let m = /^\/api\/v1\/repos\/acme\/infra\/statuses\/(\w+)$/.exec(url);
      if (req.method === "POST" && m) {
        statuses.push({ sha: m[1] as string, ...body });
        return res.end("{}");
      }
      if (req.method === "GET" && /^\/api\/v1\/repos\/acme\/infra\/issues\/7\/comments/.test(url)) {
        return res.end(JSON.stringify(comments));
      }
      if (req.method === "POST" && url === "/api/v1/repos/acme/infra/issues/7/comments") {
        comments.push({ id: comments.length + 1, body: body.body });
        return res.end("{}");
      }
      m = /^\/api\/v1\/repos\/acme\/infra\/issues\/comments\/(\d+)$/.exec(url);
      if (req.method === "PATCH" && m) {
        const comment = comments.find((c) => c.id === Number(m?.[1]));
        if (comment) comment.body = body.body;
        edits.push(Number(m[1]));
        return res.end("{}");
      }
      res.statusCode = 404;
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    statuses,
    comments,
    edits,
    server,
  };
}

describe("pull request previews", () => {
  let h: Harness;
  const { spec, create } = useReconciler((harness) => {
    h = harness;
  });
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });

  async function setup(options: { forks?: boolean } = {}) {
    const gitea = await fakeGitea();
    open.push({
      close: () => {
        gitea.server.closeAllConnections();
        gitea.server.close();
      },
    });
    h.source.changedFiles = async () => ["site/site.json"];
    const reconciler = await create({
      targets: [
        spec({ repo: `${gitea.url}/acme/infra.git`, path: "site" }),
        spec({ name: "other", path: "other" }),
      ],
    });
    const notifier = Notifier.create({
      providers: [{ provider: "gitea", url: gitea.url, token: "t0ken-for-tests" }],
      delivery: { minIntervalMs: 0 },
    });
    open.push(notifier);
    const previews = new PullRequestPreviews(reconciler, notifier, options);
    open.push(previews);
    const event = (action: string, over: Partial<PullRequestEvent> = {}): PullRequestEvent => ({
      action,
      number: 7,
      repoUrls: [`${gitea.url}/acme/infra`],
      baseRef: "main",
      baseSha: "c".repeat(40),
      headSha: REV_B,
      fork: false,
      ...over,
    });
    const settled = async () => {
      await previews.whenIdle();
      await notifier.whenIdle();
    };
    return { gitea, reconciler, previews, event, settled };
  }

  it("posts one comment per pull request and target, edits it on the next push, and sets pending then success", async () => {
    const { gitea, previews, event, settled } = await setup();
    h.engine.plan = planOf(1, ["update", "pulumi-nodejs:dynamic:Resource"]);
    expect(previews.handle(event("opened"))).toEqual({ previewing: ["site"], skipped: [], stopped: [] });
    await settled();
    expect(gitea.statuses.map((s) => `${s.context} ${s.state} ${s.description}`)).toEqual([
      "driftless/site pending previewing the plan",
      "driftless/site success plan: 1 update",
    ]);
    expect(gitea.comments).toHaveLength(1);
    expect(gitea.comments[0]?.body).toContain("<!-- driftless-preview:site -->");
    // The preview checked out the pull request's head, and the stack was not applied.
    expect(h.source.checkouts.at(-1)?.ref).toBe("refs/pull/7/head");
    expect(h.engine.ops()).toEqual(["preview"]);
    expect(h.engine.calls[0]?.options?.ephemeral).toBe(true);

    h.engine.plan = planOf(2);
    previews.handle(event("synchronized"));
    await settled();
    expect(gitea.comments).toHaveLength(1);
    expect(gitea.edits).toEqual([1]);
    expect(gitea.comments[0]?.body).toContain("No changes");
    expect(gitea.statuses.at(-1)).toMatchObject({ state: "success", description: "plan: no changes" });
  });

  it("reports a failed preview as a failure with the error, in the status and the comment", async () => {
    const { gitea, previews, event, settled } = await setup();
    h.engine.previewErrors.push(new Error("Running program failed:\n  Error: the program is broken"));
    previews.handle(event("opened"));
    await settled();
    expect(gitea.statuses.at(-1)).toMatchObject({
      state: "failure",
      description: "preview failed: Error: the program is broken",
    });
    expect(gitea.comments[0]?.body).toContain("The preview **failed**");
  });

  it("does not preview forks unless told to, nor pull requests that change none of the target's files", async () => {
    const { gitea, previews, event, settled } = await setup();
    expect(previews.handle(event("opened", { fork: true })).skipped).toEqual([
      { target: "site", reason: "pull request from a fork (set pullRequests.forks to preview)" },
    ]);
    h.source.changedFiles = async () => ["docs/readme.md"];
    expect(previews.handle(event("opened")).previewing).toEqual(["site"]);
    await settled();
    expect(h.engine.ops()).toEqual([]);
    expect(gitea.statuses).toEqual([]);
  });

  it("previews forks when told to", async () => {
    const forks = await setup({ forks: true });
    expect(forks.previews.handle(forks.event("opened", { fork: true })).previewing).toEqual(["site"]);
    await forks.settled();
    expect(h.engine.ops()).toEqual(["preview"]);
  });

  it("stops a preview in flight when the pull request is closed, and posts nothing after", async () => {
    const { gitea, previews, event, settled } = await setup();
    h.engine.hold = true;
    previews.handle(event("opened"));
    await until(() => h.engine.held.length === 1, "the preview to reach the engine");
    expect(previews.handle(event("closed")).stopped).toEqual(["site"]);
    await settled();
    expect(gitea.comments).toEqual([]);
    expect(gitea.statuses.map((s) => s.state)).toEqual(["pending"]);
  });
});
