// Review stacks end to end on a real Gitea and the real engine, with a dynamic-provider program
// (files written by a local provider): a pull request gets a stack of its own, applied on open and
// push, destroyed on close, at a restart when it closed meanwhile, and once the target drops `reviewStacks`; beyond maxConcurrent a pull
// request waits; a fork's gets none. The ttl (on a fake clock) is in the unit test beside ReviewStacks.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DriftlessServer,
  listen,
  Notifier,
  type PullRequestOutcome,
  PullRequestPreviews,
  Reconciler,
  type ReviewStackRecord,
  ReviewStacks,
  reviewMarker,
  SqliteStore,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dashboard, launchChromium, screenshotDir, seriousViolations } from "./support/browser.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { git } from "./support/git.js";
import { type Gitea, startGitea } from "./support/gitea.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until, untilAsync } from "./support/wait.js";

const HOOK_SECRET = "review-hook-secret-7d1e";
const SECRET_OUTPUT = "review-output-secret-5a9c";

interface Status {
  readonly id: number;
  readonly context: string;
  readonly status: string;
  readonly description: string;
}
interface Comment {
  readonly id: number;
  readonly body: string;
}

describe("review stacks on a real Gitea", () => {
  let sandbox: EngineSandbox;
  let gitea: Gitea;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let notifier: Notifier;
  let reviewStacks: ReviewStacks;
  let previews: PullRequestPreviews;
  let store: SqliteStore;
  let work: string;
  let dataDir: string;
  const outcomes: { number: number; outcome: PullRequestOutcome }[] = [];
  const pulls: Record<string, number> = {};

  const outDir = (pull: number) => join(sandbox.dir, "sites", `pr-${pull}`);
  const stateFile = (stack: string) => join(dataDir, "state", ".pulumi", "stacks", "site", `${stack}.json`);
  const statuses = (sha: string) =>
    gitea.api<Status[]>("GET", `/repos/${gitea.owner}/${gitea.repo}/statuses/${sha}?limit=50`);
  const reviewComments = async (pull: number) =>
    (await gitea.api<Comment[]>("GET", `/repos/${gitea.owner}/${gitea.repo}/issues/${pull}/comments`)).filter(
      (c) => c.body.includes(reviewMarker("site")),
    );
  const record = (pull: number): Promise<ReviewStackRecord | undefined> =>
    reconciler.reviewStacks.getReviewStack("site", pull);
  /** The newest `driftless/review-site` status of a commit, once it is `state`. */
  const reviewStatus = (sha: string, state: string) =>
    untilAsync(
      async () => {
        const newest = (await statuses(sha))
          .filter((s) => s.context === "driftless/review-site")
          .sort((a, b) => b.id - a.id)[0];
        return newest?.status === state ? newest : undefined;
      },
      `a ${state} review status on ${sha.slice(0, 12)}`,
      120_000,
    );
  /** The one review comment of a pull request, once `check` holds for it. */
  const reviewComment = (pull: number, check: (body: string) => boolean, what: string) =>
    untilAsync(
      async () => {
        const list = await reviewComments(pull);
        return list.length === 1 && check(list[0]?.body ?? "") ? (list[0] as Comment) : undefined;
      },
      `the review comment of #${pull} ${what}`,
      120_000,
    );
  const commit = (branch: string, page: string, from = "main"): string => {
    git(work, "checkout", "--quiet", from);
    git(work, "checkout", "--quiet", "-B", branch);
    writeFileSync(join(work, "site", "site.json"), JSON.stringify({ "index.html": page }));
    git(work, "add", "-A");
    git(work, "commit", "--quiet", "-m", page);
    git(work, "push", "--quiet", "--force", "origin", `HEAD:refs/heads/${branch}`);
    return git(work, "rev-parse", "HEAD");
  };
  const openPull = async (branch: string, head = branch): Promise<number> => {
    const pull = await gitea.api<{ number: number }>("POST", `/repos/${gitea.owner}/${gitea.repo}/pulls`, {
      head,
      base: "main",
      title: branch,
    });
    pulls[branch] = pull.number;
    return pull.number;
  };
  const closePull = (pull: number) =>
    gitea.api("PATCH", `/repos/${gitea.owner}/${gitea.repo}/pulls/${pull}`, { state: "closed" });

  /**
   * A reconciler, its review stacks and a server on the data directory (again after a restart);
   * `reviewStacks: false` configures the target without them.
   */
  async function serve(options: { reviewStacks?: boolean } = {}): Promise<void> {
    store = new SqliteStore(join(dataDir, "driftless.db"));
    reconciler = await Reconciler.create({
      dataDir,
      store,
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [
        {
          name: "site",
          repo: gitea.cloneUrl,
          ref: "main",
          path: "site",
          stack: "dev",
          passphrase: "test-passphrase",
          config: { outDir: join(sandbox.dir, "sites", "base") },
          env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
          interval: "1h",
          resync: "1h",
          refresh: false,
          ...(options.reviewStacks === false
            ? {}
            : {
                reviewStacks: {
                  stack: "pr-{number}",
                  config: { outDir: join(sandbox.dir, "sites", "pr-{number}") },
                  ttl: "1h",
                  maxConcurrent: 1,
                },
              }),
        },
      ],
    });
    notifier = Notifier.create({
      providers: [{ provider: "gitea", url: gitea.url, token: gitea.token }],
      delivery: { timeoutMs: 5_000, retryBaseMs: 200, maxAttempts: 3, minIntervalMs: 0 },
    }).follow(reconciler);
    reviewStacks = new ReviewStacks(reconciler, notifier, { audit: store });
    previews = new PullRequestPreviews(reconciler, notifier, { reviewStacks });
    const handle = previews.handle.bind(previews);
    previews.handle = (event) => {
      const outcome = handle(event);
      outcomes.push({ number: event.number, outcome });
      return outcome;
    };
    server = await listen(reconciler, {
      port: 0,
      tokens: ["review-token"],
      webhooks: { github: HOOK_SECRET },
      pullRequests: previews,
      audit: store,
    });
    reconciler.start();
    await reviewStacks.start();
    await gitea.addWebhook(`${server.url}/hooks/github`, HOOK_SECRET);
  }

  async function shutdown(): Promise<void> {
    previews?.close();
    await server?.shutdown({ graceMs: 1000 });
    await notifier?.whenIdle();
    notifier?.close();
    await store?.close();
  }

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-review-");
    dataDir = join(sandbox.dir, "data");
    gitea = await startGitea(join(sandbox.dir, "gitea"));
    work = mkdtempSync(join(tmpdir(), "driftless-review-work-"));
    cpSync(siteProgramSeed(sandbox.dir), join(work, "site"), { recursive: true });
    // Outputs a review comment shows: a URL (as a link) and a secret (masked).
    writeFileSync(
      join(work, "site", "index.js"),
      `${readFileSync(join(work, "site", "index.js"), "utf8")}
exports.url = "http://preview.example/" + require("node:path").basename(outDir);
exports.token = pulumi.secret("${SECRET_OUTPUT}");
`,
    );
    git(work, "init", "--quiet", "--initial-branch=main");
    git(work, "remote", "add", "origin", gitea.pushUrl);
    writeFileSync(join(work, "site", "site.json"), JSON.stringify({ "index.html": "<h1>base</h1>" }));
    git(work, "add", "-A");
    git(work, "commit", "--quiet", "-m", "site program");
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main");
    mkdirSync(join(sandbox.dir, "sites"), { recursive: true });
    await serve();
    await reconciler.whenIdle();
  }, 120_000);

  afterAll(async () => {
    await shutdown();
    await gitea?.stop();
    sandbox?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("applies a review stack when a pull request opens: status success, one comment with its outputs", async () => {
    expect(readFileSync(join(sandbox.dir, "sites", "base", "index.html"), "utf8")).toBe("<h1>base</h1>");
    const head = commit("one", "<h1>one</h1>");
    const pull = await openPull("one");
    await reviewStatus(head, "success");
    expect(readFileSync(join(outDir(pull), "index.html"), "utf8")).toBe("<h1>one</h1>");
    expect(await record(pull)).toMatchObject({
      state: "applied",
      stack: "pr-1",
      branch: "one",
      headSha: head,
    });
    const comment = await reviewComment(pull, (b) => b.includes("applied"), "applied");
    expect(comment.body).toContain(`[http://preview.example/pr-${pull}](http://preview.example/pr-${pull})`);
    expect(comment.body).not.toContain(SECRET_OUTPUT);
    expect(existsSync(stateFile(`pr-${pull}`))).toBe(true);
    // The base stack is untouched: its own files, its own state.
    expect(readFileSync(join(sandbox.dir, "sites", "base", "index.html"), "utf8")).toBe("<h1>base</h1>");
    const run = (await reconciler.history(`site-pr-${pull}`))[0];
    expect(run).toMatchObject({ result: "applied", revision: head });
    const audit = await store.listAudit({ target: "site" });
    expect(audit.map((e) => e.action)).toContain("review-stack.create");
  });

  it("applies a push to the pull request's branch in place, editing the same comment", async () => {
    const pull = pulls.one as number;
    const before = (await reviewComments(pull))[0] as Comment;
    const head = commit("one", "<h1>one, again</h1>", "one");
    await reviewStatus(head, "success");
    expect(readFileSync(join(outDir(pull), "index.html"), "utf8")).toBe("<h1>one, again</h1>");
    const after = await reviewComment(
      pull,
      (b) => b.includes(head.slice(0, 12)) && b.includes("applied"),
      "at the new head",
    );
    expect(after.id).toBe(before.id);
    expect(await record(pull)).toMatchObject({ state: "applied", headSha: head });
  });

  it("shows a review stack under its target: GET /targets and the dashboard, with the pull request's link", async () => {
    const pull = pulls.one as number;
    const pullUrl = `${gitea.url}/${gitea.owner}/${gitea.repo}/pulls/${pull}`;
    const { targets } = (await (
      await fetch(`${server.url}/targets`, { headers: { authorization: "Bearer review-token" } })
    ).json()) as { targets: { name: string; reviewStacks?: Record<string, unknown>[] }[] };
    expect(targets.map((t) => t.name)).toEqual(["site"]);
    expect(targets[0]?.reviewStacks).toEqual([
      expect.objectContaining({
        name: `site-pr-${pull}`,
        number: pull,
        stack: `pr-${pull}`,
        state: "applied",
        pullRequestUrl: pullUrl,
        status: expect.objectContaining({ name: `site-pr-${pull}` }),
      }),
    ]);
    const browser = await launchChromium({ width: 1280, height: 560 });
    try {
      const dashboard = new Dashboard(browser.page, server.url);
      await browser.page.goto(dashboard.url("/login"));
      await browser.page.fill("#token", "review-token");
      await browser.page.click("main button[type=submit]");
      await browser.page.waitForURL(dashboard.url("/"));
      const rows = browser.page.locator("table.targets tbody tr");
      await expect(rows.evaluateAll((trs) => trs.map((tr) => tr.id))).resolves.toEqual([
        "row-site",
        `row-site-pr-${pull}`,
      ]);
      const review = dashboard.row(`site-pr-${pull}`);
      await expect(review.getAttribute("data-review-of")).resolves.toBe("site");
      await expect(review.locator(`a[href="${pullUrl}"]`).textContent()).resolves.toBe(
        `pull request #${pull}`,
      );
      expect(await seriousViolations(browser.page)).toEqual([]);
      mkdirSync(screenshotDir(sandbox.dir), { recursive: true });
      await browser.page
        .locator("main")
        .screenshot({ path: join(screenshotDir(sandbox.dir), "ui-review-stacks.png") });
    } finally {
      await browser.close();
    }
  });

  it("makes a second pull request wait while maxConcurrent is reached, and starts it when the first closes", async () => {
    const first = pulls.one as number;
    const head = commit("two", "<h1>two</h1>");
    const pull = await openPull("two");
    await reviewComment(
      pull,
      (b) => b.includes("waiting") && b.includes("maxConcurrent: 1"),
      "saying it waits",
    );
    expect(await record(pull)).toMatchObject({ state: "waiting" });
    expect(existsSync(outDir(pull))).toBe(false);

    await closePull(first);
    await reviewComment(
      first,
      (b) => b.includes("destroyed") && b.includes("closed"),
      "saying it was destroyed",
    );
    expect(await record(first)).toBeUndefined();
    expect(existsSync(join(outDir(first), "index.html"))).toBe(false);
    expect(existsSync(stateFile(`pr-${first}`))).toBe(false);
    expect(reconciler.target(`site-pr-${first}`)).toBeUndefined();

    await reviewStatus(head, "success");
    expect(readFileSync(join(outDir(pull), "index.html"), "utf8")).toBe("<h1>two</h1>");
    expect(await record(pull)).toMatchObject({ state: "applied" });
    const actions = (await store.listAudit({ target: "site" })).map((e) => `${e.action} ${e.detail}`);
    expect(actions.some((a) => a.startsWith("review-stack.destroy") && a.includes(`#${first}`))).toBe(true);
  });

  it("destroys at start the review stack of a pull request that closed while no reconciler ran", async () => {
    // The second pull request's stack, applied when the first closed.
    const pull = pulls.two as number;
    expect(readFileSync(join(outDir(pull), "index.html"), "utf8")).toBe("<h1>two</h1>");
    await shutdown();
    await closePull(pull);
    await serve();
    // `start()` asked Gitea and destroyed it before resolving.
    expect(await record(pull)).toBeUndefined();
    expect(existsSync(join(outDir(pull), "index.html"))).toBe(false);
    expect(existsSync(stateFile(`pr-${pull}`))).toBe(false);
    await reviewComment(pull, (b) => b.includes("destroyed"), "saying it was destroyed");
    const actions = (await store.listAudit({ target: "site" })).map((e) => e.action);
    expect(actions).toContain("review-stack.prune");
    expect(readFileSync(join(sandbox.dir, "sites", "base", "index.html"), "utf8")).toBe("<h1>base</h1>");
  });

  it("gives a pull request from a fork no review stack", async () => {
    await gitea.api("POST", "/orgs", { username: "forker" });
    await gitea.api("POST", `/repos/${gitea.owner}/${gitea.repo}/forks`, { organization: "forker" });
    git(work, "checkout", "--quiet", "main");
    git(work, "checkout", "--quiet", "-B", "forked");
    writeFileSync(join(work, "site", "site.json"), JSON.stringify({ "index.html": "<h1>fork</h1>" }));
    git(work, "commit", "--quiet", "-am", "fork");
    git(
      work,
      "push",
      "--quiet",
      gitea.pushUrl.replace(`/${gitea.owner}/`, "/forker/"),
      "HEAD:refs/heads/forked",
    );
    const pull = await openPull("forked", "forker:forked");
    const seen = await until(
      () => outcomes.find((o) => o.number === pull && o.outcome.reviewStacks),
      "the fork's pull request event",
      60_000,
    );
    expect(seen.outcome.reviewStacks?.skipped).toEqual([
      { target: "site", reason: expect.stringContaining("fork") },
    ]);
    await reviewStacks.whenIdle();
    expect(await record(pull)).toBeUndefined();
    expect(existsSync(outDir(pull))).toBe(false);
  });

  it("destroys the recorded review stacks once reviewStacks is removed from the target, and leaves the base alone", async () => {
    const head = commit("three", "<h1>three</h1>");
    const pull = await openPull("three");
    await reviewStatus(head, "success");
    expect(readFileSync(join(outDir(pull), "index.html"), "utf8")).toBe("<h1>three</h1>");
    await shutdown();
    // Without `reviewStacks` there is no template: the record names the stack, and the target's
    // own config (its outDir is the base site's) is never run: a destroy runs no program.
    await serve({ reviewStacks: false });
    await reviewStacks.whenIdle();
    expect(await record(pull)).toBeUndefined();
    expect(existsSync(join(outDir(pull), "index.html"))).toBe(false);
    expect(existsSync(stateFile(`pr-${pull}`))).toBe(false);
    expect(reconciler.target(`site-pr-${pull}`)).toBeUndefined();
    expect(readFileSync(join(sandbox.dir, "sites", "base", "index.html"), "utf8")).toBe("<h1>base</h1>");
    expect(existsSync(stateFile("dev"))).toBe(true);
    await reviewComment(pull, (b) => b.includes("`reviewStacks` was removed"), "saying why it was destroyed");
    const audit = await store.listAudit({ target: "site" });
    expect(
      audit.some(
        (e) => e.action === "review-stack.destroy" && e.detail?.includes(`#${pull}, stack pr-${pull}`),
      ),
    ).toBe(true);
  });
});
