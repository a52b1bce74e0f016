import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ReconcilerEvents, TypedEmitter } from "../events.js";
import type { ResolvedTarget } from "../spec/spec.js";
import { type DeliveryOutcome, DeliveryQueue } from "./deliveries.js";
import { Notifier, statusText } from "./notifier.js";

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A local HTTP receiver; `answer` decides each reply (or never replies). */
async function receiver(
  answer: (req: Received, res: ServerResponse) => void = (_r, res) => res.end("ok"),
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const r = { path: req.url ?? "", headers: req.headers, body };
      received.push(r);
      answer(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

function counter() {
  const counts: Record<string, number> = {};
  return {
    counts,
    count: (channel: string, outcome: DeliveryOutcome) => {
      counts[`${channel}:${outcome}`] = (counts[`${channel}:${outcome}`] ?? 0) + 1;
    },
  };
}

describe("DeliveryQueue", () => {
  it("retries a receiver that answers 500 with backoff until it succeeds, and counts each outcome", async () => {
    let calls = 0;
    const r = await receiver((_req, res) => {
      calls++;
      res.statusCode = calls < 3 ? 500 : 200;
      res.end();
    });
    servers.push(r.server);
    const { counts, count } = counter();
    const queue = new DeliveryQueue({ retryBaseMs: 10, minIntervalMs: 0 }, { count });
    queue.push("webhook", "test", async (signal) => {
      const { expectOk } = await import("./deliveries.js");
      await expectOk(await fetch(r.url, { method: "POST", signal }), "test");
    });
    await queue.whenIdle();
    expect(calls).toBe(3);
    expect(counts).toEqual({ "webhook:retried": 2, "webhook:delivered": 1 });
  });

  it("gives up at once on a 4xx, and after maxAttempts on a receiver that never answers", async () => {
    const bad = await receiver((_req, res) => {
      res.statusCode = 400;
      res.end("bad");
    });
    const hanging = await receiver(() => undefined);
    servers.push(bad.server, hanging.server);
    const { counts, count } = counter();
    const queue = new DeliveryQueue(
      { retryBaseMs: 5, timeoutMs: 1000, maxAttempts: 2, minIntervalMs: 0 },
      { count },
    );
    const { expectOk } = await import("./deliveries.js");
    queue.push("bad", "x", async (signal) => {
      await expectOk(await fetch(bad.url, { method: "POST", signal }), "bad");
    });
    queue.push("hanging", "x", async (signal) => {
      await expectOk(await fetch(hanging.url, { method: "POST", signal }), "hanging");
    });
    await queue.whenIdle();
    expect(bad.received).toHaveLength(1);
    expect(hanging.received).toHaveLength(2);
    expect(counts).toEqual({ "bad:failed": 1, "hanging:retried": 1, "hanging:failed": 1 });
  });

  it("drops the oldest deliveries beyond maxQueued", async () => {
    const { counts, count } = counter();
    const queue = new DeliveryQueue({ maxQueued: 2, minIntervalMs: 0 }, { count });
    const sent: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    queue.push("c", "first", async () => {
      await gate;
      sent.push(0);
    });
    for (const n of [1, 2, 3]) queue.push("c", `n${n}`, async () => void sent.push(n));
    release();
    await queue.whenIdle();
    expect(sent).toEqual([0, 2, 3]);
    expect(counts["c:dropped"]).toBe(1);
  });
});

describe("Notifier", () => {
  const target = { name: "site", repo: "https://git.example.com/acme/infra.git" } as ResolvedTarget;
  const finished = (over: Partial<ReconcilerEvents["run.finished"]>): ReconcilerEvents["run.finished"] => ({
    target: "site",
    runId: "run-1",
    result: "applied",
    revision: "c".repeat(40),
    counts: { create: 1, update: 0, delete: 0, replace: 0, same: 2 },
    drift: false,
    durationMs: 10,
    ...over,
  });

  it("signs generic webhooks with HMAC-SHA256, sends Slack text, and honours each provider's events", async () => {
    const hook = await receiver();
    const slack = await receiver();
    servers.push(hook.server, slack.server);
    const events = new TypedEmitter<ReconcilerEvents>();
    const notifier = Notifier.create({
      providers: [
        { provider: "webhook", url: `${hook.url}/in`, secret: "hmac-key-1234", events: ["failed"] },
        { provider: "slack", url: `${slack.url}/services/T0/B0/secretpath` },
      ],
      delivery: { minIntervalMs: 0 },
    }).follow({ on: (e, l) => events.on(e, l), target: () => target });
    events.emit("run.finished", finished({}));
    events.emit("run.finished", finished({ result: "failed", error: "engine said no" }));
    // The same failure again (a retry) is told once.
    events.emit("run.finished", finished({ result: "failed", error: "engine said no", runId: "run-2" }));
    events.emit("run.finished", finished({ result: "unchanged" }));
    await notifier.whenIdle();
    notifier.close();

    expect(hook.received).toHaveLength(1);
    const [delivery] = hook.received;
    const expected = `sha256=${createHmac("sha256", "hmac-key-1234")
      .update(delivery?.body ?? "")
      .digest("hex")}`;
    expect(delivery?.headers["x-signature"]).toBe(expected);
    expect(delivery?.headers["x-driftless-event"]).toBe("failed");
    expect(JSON.parse(delivery?.body ?? "{}")).toMatchObject({
      event: "failed",
      target: "site",
      revision: "c".repeat(40),
      result: "failed",
      message: "engine said no",
      repository: "https://git.example.com/acme/infra.git",
    });
    expect(slack.received.map((r) => JSON.parse(r.body).text)).toEqual([
      `*site* applied at \`cccccccccccc\`: applied: 1 create`,
      `*site* failed at \`cccccccccccc\`: engine said no`,
    ]);
  });

  it("sets commit statuses only on the Git host that serves the repository", async () => {
    const gitea = await receiver((_r, res) => {
      res.statusCode = 201;
      res.end("{}");
    });
    servers.push(gitea.server);
    const events = new TypedEmitter<ReconcilerEvents>();
    const notifier = Notifier.create({
      providers: [
        { provider: "gitea", url: gitea.url, token: "gitea-token-5678" },
        // Serves the same repository but takes only failures: the stalled run is not its business.
        { provider: "gitea", url: gitea.url, token: "other-token-9012", events: ["failed"] },
      ],
      delivery: { minIntervalMs: 0 },
    }).follow({
      on: (e, l) => events.on(e, l),
      target: (name) =>
        name === "here" ? ({ name, repo: `${gitea.url}/acme/infra.git` } as ResolvedTarget) : target,
    });
    events.emit("run.finished", finished({ target: "here", result: "stalled", error: "boom\nmore" }));
    events.emit("run.finished", finished({ target: "site" }));
    await notifier.whenIdle();
    notifier.close();
    expect(gitea.received.map((r) => r.path)).toEqual([
      `/api/v1/repos/acme/infra/statuses/${"c".repeat(40)}`,
    ]);
    expect(gitea.received[0]?.headers.authorization).toBe("token gitea-token-5678");
    expect(JSON.parse(gitea.received[0]?.body ?? "{}")).toEqual({
      state: "failure",
      context: "driftless/here",
      description: "stalled: boom",
    });
  });

  it("masks the service's secrets and its own in statuses, notifications and comments", async () => {
    const gitea = await receiver((_r, res) => {
      res.statusCode = 201;
      res.end("{}");
    });
    const hook = await receiver();
    servers.push(gitea.server, hook.server);
    const events = new TypedEmitter<ReconcilerEvents>();
    const notifier = Notifier.create({
      providers: [
        { provider: "gitea", url: gitea.url, token: "gitea-token-5678" },
        { provider: "webhook", url: `${hook.url}/in`, secret: "hmac-key-1234" },
      ],
      secrets: ["api-token-given-1"],
      delivery: { minIntervalMs: 0 },
    }).follow({
      on: (e, l) => events.on(e, l),
      target: () => ({ name: "site", repo: `${gitea.url}/acme/infra.git` }) as ResolvedTarget,
      secrets: ["db-password-of-reconciler"],
    });
    const error = "leak api-token-given-1 db-password-of-reconciler gitea-token-5678 hmac-key-1234";
    events.emit("run.finished", finished({ result: "failed", error }));
    await notifier.whenIdle();
    notifier.close();
    const masked = "leak [redacted] [redacted] [redacted] [redacted]";
    expect(JSON.parse(gitea.received[0]?.body ?? "{}").description).toBe(`failed: ${masked}`);
    expect(JSON.parse(hook.received[0]?.body ?? "{}").message).toBe(masked);
    expect(notifier.redact(`comment: ${error}`)).toBe(`comment: ${masked}`);
  });

  it("describes results for statuses", () => {
    expect(statusText("applied", { create: 0, update: 0, delete: 0, replace: 0, same: 3 })).toBe(
      "applied: no changes",
    );
    expect(statusText("failed", undefined, "line one\nline two")).toBe("failed: line one");
    expect(statusText("stalled", undefined, "Running program failed:\n  Error: it broke\n  at x")).toBe(
      "stalled: Error: it broke",
    );
  });
});
