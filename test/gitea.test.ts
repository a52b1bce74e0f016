// Plan–review–apply against a real Git host: Gitea (built from Go modules) sends
// push and pull_request webhooks to a Driftless server on the real engine;
// commit statuses and the PR comment are read back through Gitea's API, and
// notification receivers on local HTTP servers check signatures and payloads.
import { createHash, createHmac } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DriftlessServer,
  GitHubHost,
  listen,
  Notifier,
  PullRequestPreviews,
  Reconciler,
  ReconcilerMetrics,
  type RunRecord,
  signBody,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { git } from "./support/git.js";
import { type Gitea, startGitea } from "./support/gitea.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

const HOOK_SECRET = "gitea-hook-secret-51c2";
const NOTIFY_SECRET = "notify-hmac-secret-9e0d";
const TOKEN = "api-token-3b7a51";
/**
 * The service's own secrets in its environment, as `driftless serve` holds
 * them (`tokens: [{ env }]`, a webhook secret, the Git host's token): a pull
 * request's program must not read them, and nothing it prints may post them.
 */
const SERVICE_ENV = {
  DRIFTLESS_E2E_TOKEN: TOKEN,
  DRIFTLESS_E2E_HOOK_SECRET: HOOK_SECRET,
  DRIFTLESS_E2E_NOTIFY_SECRET: NOTIFY_SECRET,
} as const;

interface Received {
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  answered: boolean;
}

/** A local receiver; `answer` replies (or never does, for a hanging receiver). */
async function receiver(answer: (res: ServerResponse) => void) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const entry: Received = { headers: req.headers, body, answered: false };
      received.push(entry);
      res.on("finish", () => {
        entry.answered = true;
      });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

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

describe("pull requests, statuses and notifications on a real Gitea", () => {
  let sandbox: EngineSandbox;
  let gitea: Gitea;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let notifier: Notifier;
  let previews: PullRequestPreviews;
  let work: string;
  let outDir: string;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let slack: Awaited<ReturnType<typeof receiver>>;
  let hanging: Awaited<ReturnType<typeof receiver>>;
  let failing: Awaited<ReturnType<typeof receiver>>;
  let firstPull = 0;
  const started: string[] = [];

  const statuses = (sha: string) =>
    gitea.api<Status[]>("GET", `/repos/${gitea.owner}/${gitea.repo}/statuses/${sha}?limit=50`);
  const comments = (pull: number) =>
    gitea.api<Comment[]>("GET", `/repos/${gitea.owner}/${gitea.repo}/issues/${pull}/comments`);
  /** Polls Gitea (asynchronously) until `check` says yes. */
  async function eventually<T>(
    read: () => Promise<T>,
    check: (value: T) => boolean,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const value = await read();
      if (check(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  /** The newest status of the target (Gitea keeps every one it was sent). */
  const latest = (list: Status[]) =>
    list.filter((s) => s.context === "driftless/site").sort((a, b) => b.id - a.id)[0];
  /** Commits files on a branch of the working clone and pushes it to Gitea; returns the SHA. */
  const commit = (branch: string, files: Record<string, string>, message: string): string => {
    git(work, "checkout", "--quiet", "-B", branch);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(work, path, ".."), { recursive: true });
      writeFileSync(join(work, path), content);
    }
    git(work, "add", "-A");
    git(work, "commit", "--quiet", "-m", message);
    git(work, "push", "--quiet", "--force", "origin", `HEAD:refs/heads/${branch}`);
    return git(work, "rev-parse", "HEAD");
  };
  const runFor = (revision: string) =>
    until(
      async () => (await reconciler.history("site")).find((r) => r.revision === revision && r.finishedAt),
      `a finished run of ${revision.slice(0, 12)}`,
      180_000,
    );
  const stateDigest = () =>
    createHash("sha256")
      .update(readFileSync(join(sandbox.dir, "data", "state", ".pulumi", "stacks", "site", "dev.json")))
      .digest("hex");

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-gitea-");
    outDir = join(sandbox.dir, "site");
    gitea = await startGitea(join(sandbox.dir, "gitea"));
    work = mkdtempSync(join(tmpdir(), "driftless-gitea-work-"));
    cpSync(siteProgramSeed(sandbox.dir), join(work, "site"), { recursive: true });
    git(work, "init", "--quiet", "--initial-branch=main");
    git(work, "remote", "add", "origin", gitea.pushUrl);
    git(work, "add", "-A");
    git(work, "commit", "--quiet", "-m", "site program");
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main");

    hook = await receiver((res) => res.end("ok"));
    slack = await receiver((res) => res.end("ok"));
    hanging = await receiver(() => undefined);
    failing = await receiver((res) => {
      res.statusCode = 500;
      res.end("down");
    });

    Object.assign(process.env, SERVICE_ENV, { DRIFTLESS_E2E_GITEA_TOKEN: gitea.token });
    reconciler = await Reconciler.create({
      // Masked in every run and preview besides the target's own secrets.
      secrets: [...Object.keys(SERVICE_ENV), "DRIFTLESS_E2E_GITEA_TOKEN"].map((env) => ({ env })),
      dataDir: join(sandbox.dir, "data"),
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
          config: { outDir },
          env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
          interval: "1h",
          resync: "1h",
        },
      ],
    });
    reconciler.on("run.started", (e) => started.push(e.runId));
    const metrics = new ReconcilerMetrics(reconciler);
    notifier = Notifier.create({
      providers: [
        { provider: "gitea", url: gitea.url, token: gitea.token },
        {
          provider: "webhook",
          url: `${hook.url}/driftless`,
          secret: NOTIFY_SECRET,
          events: ["applied", "failed"],
        },
        { provider: "slack", url: `${slack.url}/services/T000/B000/xyz` },
        { provider: "webhook", url: hanging.url, secret: NOTIFY_SECRET },
        { provider: "slack", url: failing.url },
      ],
      count: (provider, outcome) => metrics.notification(provider, outcome),
      delivery: { timeoutMs: 5_000, retryBaseMs: 200, maxAttempts: 3, minIntervalMs: 0 },
    }).follow(reconciler);
    previews = new PullRequestPreviews(reconciler, notifier);
    server = await listen(reconciler, {
      port: 0,
      tokens: [TOKEN],
      webhooks: { github: HOOK_SECRET },
      metrics,
      pullRequests: previews,
    });
    await gitea.addWebhook(`${server.url}/hooks/github`, HOOK_SECRET);
  });

  afterAll(async () => {
    previews?.close();
    await server?.shutdown({ graceMs: 1000 });
    notifier?.close();
    for (const r of [hook, slack, hanging, failing]) {
      r?.server.closeAllConnections();
      r?.server.close();
    }
    await gitea?.stop();
    sandbox?.dispose();
    // The working clone lives outside the sandbox; each run left one behind.
    if (work) rmSync(work, { recursive: true, force: true });
    for (const name of [...Object.keys(SERVICE_ENV), "DRIFTLESS_E2E_GITEA_TOKEN"]) delete process.env[name];
  });

  it("applies a push to main and sets a success status on that commit; receivers hear of it", async () => {
    const sha = commit(
      "main",
      { "site/site.json": '{ "index.html": "<h1>v2</h1>", "about.html": "<p>about</p>" }' },
      "v2",
    );
    const run: RunRecord = await runFor(sha);
    expect(run).toMatchObject({ trigger: "webhook", result: "applied" });
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v2</h1>");
    // The run finished while the hanging receiver still held its delivery.
    await until(() => hanging.received.length > 0, "the hanging receiver to be called");
    expect(hanging.received.every((r) => !r.answered)).toBe(true);

    const status = latest(
      await eventually(
        () => statuses(sha),
        (l) => latest(l) !== undefined,
        "a status",
      ),
    );
    expect(status).toMatchObject({ status: "success", description: "applied: 2 create" });

    await until(() => hook.received.length > 0 && slack.received.length > 0, "notifications");
    const delivery = hook.received[0] as Received;
    expect(delivery.headers["x-signature"]).toBe(
      `sha256=${createHmac("sha256", NOTIFY_SECRET).update(delivery.body).digest("hex")}`,
    );
    expect(JSON.parse(delivery.body)).toMatchObject({
      event: "applied",
      target: "site",
      revision: sha,
      result: "applied",
      repository: gitea.cloneUrl,
    });
    expect(JSON.parse(slack.received[0]?.body ?? "{}").text).toBe(
      `*site* applied at \`${sha.slice(0, 12)}\`: applied: 2 create`,
    );
    // The receiver that answers 500 is retried, then given up, and counted.
    await until(() => failing.received.length >= 3, "three attempts at the failing receiver", 60_000);
    const metricsText = await (await fetch(`${server.url}/metrics`)).text();
    expect(metricsText).toMatch(
      /driftless_notifications_total\{provider="gitea",outcome="delivered"\} [1-9]/,
    );
    expect(metricsText).toMatch(/driftless_notifications_total\{provider="slack",outcome="retried"\} [1-9]/);
  });

  it("previews a pull request: one comment with the plan, pending then success; a new push edits the same comment", async () => {
    git(work, "checkout", "--quiet", "main");
    const head = commit(
      "feature",
      { "site/site.json": '{ "index.html": "<h1>v3</h1>", "about.html": "<p>about</p>" }' },
      "v3",
    );
    const digest = stateDigest();
    const pull = await gitea.api<{ number: number }>("POST", `/repos/${gitea.owner}/${gitea.repo}/pulls`, {
      head: "feature",
      base: "main",
      title: "v3",
    });
    firstPull = pull.number;
    const list = await eventually(
      () => statuses(head),
      (l) => latest(l)?.status === "success",
      "a success status on the PR head",
    );
    const states = list.filter((s) => s.context === "driftless/site").map((s) => s.status);
    expect(states).toContain("pending");
    expect(latest(list)?.description).toBe("plan: 1 update");
    const [comment, ...others] = await eventually(
      () => comments(pull.number),
      (l) => l.length > 0,
      "the preview comment",
    );
    expect(others).toEqual([]);
    expect(comment?.body).toContain("<!-- driftless-preview:site -->");
    expect(comment?.body).toContain(head.slice(0, 12));
    expect(comment?.body).toContain('`content`: `"<h1>v2</h1>"` → `"<h1>v3</h1>"`');
    expect(comment?.body).toContain("Safety gates: pass.");
    // Nothing applied, the stack's state untouched.
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v2</h1>");
    expect(stateDigest()).toBe(digest);

    const next = commit(
      "feature",
      { "site/site.json": '{ "index.html": "<h1>v4</h1>", "about.html": "<p>about</p>" }' },
      "v4",
    );
    const updated = await eventually(
      () => comments(pull.number),
      (l) => l.length === 1 && (l[0]?.body.includes(next.slice(0, 12)) ?? false),
      "the comment edited for the new head",
    );
    expect(updated[0]?.id).toBe(comment?.id);
    expect(updated[0]?.body).toContain('`"<h1>v4</h1>"`');
    await eventually(
      () => statuses(next),
      (l) => latest(l)?.status === "success",
      "success on the new head",
    );
  });

  it("marks a pull request with a broken program failed, with the error, and leaves the stack alone; the program reads and posts no secret", async () => {
    git(work, "checkout", "--quiet", "main");
    const digest = stateDigest();
    const runs = (await reconciler.history("site")).length;
    // The pull request's code prints and throws every variable it can read,
    // the service's first (an engine error is cut at 1,500 characters).
    const wanted = [...Object.keys(SERVICE_ENV), "DRIFTLESS_E2E_GITEA_TOKEN", "PULUMI_CONFIG_PASSPHRASE"];
    const head = commit(
      "broken",
      {
        "site/index.js": [
          `const wanted = Object.fromEntries(${JSON.stringify(wanted)}.map((k) => [k, process.env[k]]));`,
          "const env = JSON.stringify(process.env);",
          "console.log(env);",
          'throw new Error("this program is broken: " + JSON.stringify(wanted) + " " + env);',
          "",
        ].join("\n"),
      },
      "break it",
    );
    const pull = await gitea.api<{ number: number }>("POST", `/repos/${gitea.owner}/${gitea.repo}/pulls`, {
      head: "broken",
      base: "main",
      title: "broken",
    });
    const status = latest(
      await eventually(
        () => statuses(head),
        (l) => latest(l)?.status === "failure",
        "a failure status",
      ),
    );
    expect(status?.description).toMatch(/^preview failed: .*this program is broken/);
    const [comment] = await comments(pull.number);
    expect(comment?.body).toContain("The preview **failed**");
    expect(comment?.body).toContain("this program is broken");
    for (const posted of [comment?.body ?? "", status?.description ?? ""]) {
      for (const secret of [TOKEN, HOOK_SECRET, NOTIFY_SECRET, gitea.token, "test-passphrase"]) {
        expect(posted).not.toContain(secret);
      }
      for (const name of Object.keys(SERVICE_ENV)) expect(posted).not.toContain(name);
    }
    // What the program threw did reach the comment: the service's variables
    // were not set for it, the target's passphrase was, and is masked.
    expect(comment?.body).toContain('this program is broken: {"PULUMI_CONFIG_PASSPHRASE":"[redacted]"}');
    expect(comment?.body).toContain('"PATH":');
    expect(stateDigest()).toBe(digest);
    expect(await reconciler.history("site")).toHaveLength(runs);
  });

  it("plans a ref on request through the API, with a token only", async () => {
    const refused = await fetch(`${server.url}/targets/site/preview`, {
      method: "POST",
      body: JSON.stringify({ ref: "feature" }),
    });
    expect(refused.status).toBe(401);
    const res = await fetch(`${server.url}/targets/site/preview`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ ref: "feature" }),
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      changes: boolean;
      steps: { op: string; diffs?: unknown[] }[];
      markdown: string;
    };
    expect(report.changes).toBe(true);
    expect(report.steps.map((s) => s.op)).toEqual(["update"]);
    expect(report.steps[0]?.diffs).toEqual([
      { path: "content", kind: "update", replace: false, old: "<h1>v2</h1>", new: "<h1>v4</h1>" },
    ]);
    expect(report.markdown).toContain("<!-- driftless-preview:site -->");
  });

  it("drives the same API through the GitHub provider (@octokit/rest with baseUrl)", async () => {
    // Gitea's API v1 keeps GitHub's paths and shapes for statuses and comments.
    const host = new GitHubHost({ token: gitea.token, baseUrl: `${gitea.url}/api/v1`, webUrl: gitea.url });
    const repo = host.repoOf(gitea.cloneUrl);
    expect(repo).toEqual({ owner: gitea.owner, name: gitea.repo });
    const sha = git(work, "rev-parse", "feature");
    const signal = AbortSignal.timeout(30_000);
    await host.setStatus(
      repo!,
      sha,
      { state: "success", context: "driftless/octokit", description: "set through octokit" },
      signal,
    );
    await host.upsertComment(repo!, firstPull, "<!-- octokit -->", "<!-- octokit -->\nfirst", signal);
    await host.upsertComment(repo!, firstPull, "<!-- octokit -->", "<!-- octokit -->\nsecond", signal);
    const mine = (await comments(firstPull)).filter((c) => c.body.includes("<!-- octokit -->"));
    expect(mine.map((c) => c.body)).toEqual(["<!-- octokit -->\nsecond"]);
    expect((await statuses(sha)).find((s) => s.context === "driftless/octokit")).toMatchObject({
      status: "success",
      description: "set through octokit",
    });
  });

  it("applies the merge and sets the applied status on the merge commit", async () => {
    await gitea.api("POST", `/repos/${gitea.owner}/${gitea.repo}/pulls/${firstPull}/merge`, {
      Do: "merge",
      merge_message_field: "merge v4",
    });
    const merged = await gitea.api<{ merge_commit_sha: string }>(
      "GET",
      `/repos/${gitea.owner}/${gitea.repo}/pulls/${firstPull}`,
    );
    const sha = merged.merge_commit_sha;
    expect(await runFor(sha)).toMatchObject({ result: "applied" });
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe("<h1>v4</h1>");
    const status = latest(
      await eventually(
        () => statuses(sha),
        (l) => latest(l) !== undefined,
        "a status",
      ),
    );
    expect(status).toMatchObject({ status: "success", description: "applied: 1 update" });
  });

  it("refuses a webhook with a wrong signature with 401 and runs nothing", async () => {
    const before = started.length;
    const body = JSON.stringify({
      ref: "refs/heads/main",
      repository: { clone_url: gitea.cloneUrl },
      commits: [{ added: [], modified: ["site/site.json"], removed: [] }],
    });
    const res = await fetch(`${server.url}/hooks/github`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-hub-signature-256": signBody("not-the-secret", body),
      },
    });
    expect(res.status).toBe(401);
    await reconciler.whenIdle();
    expect(started.length).toBe(before);
  });
});
