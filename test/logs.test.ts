// Run logs on the real engine: stored as the run goes, so a run can be
// watched over Server-Sent Events and a run whose process was SIGKILLed keeps
// what it wrote; and readable (no RPC trace with serialized provider source,
// a notice once per run, a preview that plans rather than "does" its steps).
import { join } from "node:path";
import {
  type DriftlessServer,
  listen,
  Reconciler,
  type RunRecord,
  SqliteStore,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCrashChild } from "./support/crash.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

const TOKEN = "logs-token-5c1d";

/** One Server-Sent Event as a client reads it. */
interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

/**
 * Reads a Server-Sent Events response event by event (comments skipped),
 * calling `onEvent` for each; resolves when the server ends the stream.
 */
async function readEvents(res: Response, onEvent: (event: SseEvent) => void): Promise<void> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const fields = block.split("\n").filter((l) => !l.startsWith(":"));
      if (fields.length === 0) continue;
      const field = (name: string) =>
        fields.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
      const [id] = field("id");
      const [event] = field("event");
      onEvent({
        ...(id !== undefined ? { id } : {}),
        ...(event !== undefined ? { event } : {}),
        data: field("data").join("\n"),
      });
    }
  }
}

describe("run logs on the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let target: TargetSpec;

  beforeAll(() => {
    sandbox = engineSandbox();
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit({ "site.json": JSON.stringify({ "index.html": "<h1>v1</h1>", "old.html": "old" }) }, "v1");
    target = {
      name: "site",
      repo: repo.fileUrl,
      stack: "dev",
      passphrase: "test-passphrase",
      config: { outDir: join(sandbox.dir, "site") },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    };
  });

  afterAll(() => sandbox?.dispose());

  it("keeps logs readable: no provider source or RPC trace, notices once, previews that only plan", async () => {
    const dataDir = join(sandbox.dir, "readable");
    const applier = await Reconciler.create({ dataDir, targets: [target], installDependencies: false });
    let applied: RunRecord;
    try {
      applied = await applier.reconcile("site");
    } finally {
      await applier.stop();
    }
    expect(applied.result).toBe("applied");
    repo.commit({ "site.json": JSON.stringify({ "index.html": "<h1>v2</h1>" }) }, "v2 drops a page");
    const previewer = await Reconciler.create({
      dataDir,
      targets: [{ ...target, mode: "preview" }],
      installDependencies: false,
    });
    try {
      const planned = await previewer.reconcile("site");
      expect(planned.result).toBe("planned");
      const upLog = (await previewer.runLog(applied.id))?.text ?? "";
      const previewLog = (await previewer.runLog(planned.id))?.text ?? "";
      for (const log of [upLog, previewLog]) {
        expect(log).not.toContain("__provider");
        expect(log).not.toContain("exports.handler");
        expect(log).not.toMatch(/\] debug: /);
        // Each plugin found on $PATH is noted once per run, though every operation reports it.
        const notices = log.match(/using \S+ from \$PATH.*/g) ?? [];
        expect(new Set(notices).size).toBe(notices.length);
      }
      expect(upLog.match(/using pulumi-resource-pulumi-nodejs from \$PATH/g)).toHaveLength(1);
      // What a person needs is still there.
      expect(upLog).toMatch(/\[refresh\] refresh[\s\S]*\[preview\] preview/);
      expect(upLog).toMatch(/\[engine\] plan create urn:\S+::index\.html/);
      expect(upLog).toMatch(/\[apply\] up/);
      expect(upLog).toMatch(/\[engine\] done create urn:\S+::index\.html/);
      expect(upLog).toMatch(/\[engine\] info: deploying with token/);
      expect(upLog).toMatch(/\[apply\] applied: /);
      expect(previewLog).toMatch(/\[engine\] plan delete urn:\S+::old\.html/);
      expect(previewLog).toMatch(/\[engine\] plan update urn:\S+::index\.html/);
      expect(previewLog).not.toMatch(/\] (done|start) (delete|update|create) /);
      expect(previewLog).toMatch(/\[preview\] plan: 1 to update, 1 to delete/);
      // The history row's tail is the same readable log.
      expect((await previewer.run(planned.id))?.log).toBe(previewLog.trimEnd());
    } finally {
      await previewer.stop();
    }
  });

  describe("over HTTP", () => {
    let reconciler: Reconciler;
    let server: DriftlessServer;
    const api = (path: string, headers: Record<string, string> = {}, token: string | null = TOKEN) =>
      fetch(`${server.url}${path}`, {
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      });

    beforeAll(async () => {
      reconciler = await Reconciler.create({
        dataDir: join(sandbox.dir, "http"),
        targets: [{ ...target, name: "web", config: { outDir: join(sandbox.dir, "web") } }],
        installDependencies: false,
        logger: pino({ level: "silent" }),
      });
      server = await listen(reconciler, { port: 0, tokens: [TOKEN] });
    });

    afterAll(async () => {
      await server?.shutdown({ graceMs: 1000 });
    });

    it("streams a run's log while it runs, resumes from Last-Event-ID and ends with the run", async () => {
      repo.commit(
        {
          "site.json": JSON.stringify({
            "index.html": "<h1>v3</h1>",
            "slow.html": { content: "s", delayMs: 3000 },
          }),
        },
        "v3 with a slow page",
      );
      const started = new Promise<string>((resolve) => {
        const off = reconciler.on("run.started", (event) => {
          off();
          resolve(event.runId);
        });
      });
      const done = reconciler.reconcile("web");
      const id = await started;

      const res = await api(`/runs/${id}/log?follow=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events: SseEvent[] = [];
      let whileRunning: RunRecord | undefined;
      let inProgressReply: { log?: string; finishedAt?: string } | undefined;
      const reading = readEvents(res, async (event) => {
        events.push(event);
        if (!whileRunning && /start create urn:\S+::slow\.html/.test(event.data)) {
          whileRunning = await reconciler.run(id);
          void api(`/runs/${id}`).then(async (r) => {
            inProgressReply = (await r.json()) as typeof inProgressReply;
          });
        }
      });
      await reading;
      const run = await done;
      expect(run.result).toBe("applied");

      // The slow create was streamed before the run finished, and GET /runs/:id showed the log then.
      expect(whileRunning?.finishedAt).toBeUndefined();
      expect(whileRunning?.log).toMatch(/\[apply\] up/);
      await until(() => inProgressReply, "the reply to GET /runs/:id");
      expect(inProgressReply?.log).toMatch(/\[apply\] up/);

      const end = events.at(-1);
      expect(end?.event).toBe("end");
      expect(JSON.parse(end?.data ?? "{}")).toEqual({ result: "applied" });
      const streamed = events.filter((e) => e.event === undefined);
      const full = await (await api(`/runs/${id}/log`)).text();
      expect(streamed.map((e) => `${e.data}\n`).join("")).toBe(full);
      expect(full).toMatch(/\[apply\] applied: /);

      // A client that reconnects gets the rest after the last id it saw, then the end.
      const first = streamed[0] as SseEvent;
      const resumed: SseEvent[] = [];
      await readEvents(
        await api(`/runs/${id}/log`, { accept: "text/event-stream", "last-event-id": first.id as string }),
        (e) => resumed.push(e),
      );
      expect(resumed.at(-1)?.event).toBe("end");
      const rest = resumed
        .filter((e) => e.event === undefined)
        .map((e) => `${e.data}\n`)
        .join("");
      expect(rest).toBe(full.slice(Number(first.id)));
      expect(rest).not.toBe(full);

      // Plain text with where it ends; reads need the token; unknown runs and bad offsets are refused.
      const text = await api(`/runs/${id}/log?from=${first.id}`);
      expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(text.headers.get("x-log-offset")).toBe(String(full.length));
      expect(text.headers.get("x-run-complete")).toBe("true");
      expect(await text.text()).toBe(rest);
      expect((await api(`/runs/${id}/log`, {}, null)).status).toBe(401);
      expect((await api("/runs/no-such-run/log")).status).toBe(404);
      const bad = await api(`/runs/${id}/log?from=-1`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toContain('got "-1"');
    });
  });

  it("keeps what a run wrote before its process was SIGKILLed mid-up", async () => {
    const dataDir = join(sandbox.dir, "killed");
    repo.commit(
      {
        "site.json": JSON.stringify({
          "index.html": "<h1>v4</h1>",
          "slow.html": { content: "s", delayMs: 8000 },
        }),
      },
      "v4 with a slow page",
    );
    const killedTarget = { ...target, config: { outDir: join(sandbox.dir, "killed-site") } };
    const child = startCrashChild({ dataDir, target: killedTarget }, sandbox);
    await child.waitFor((output) => output.includes("STEP up"), "the child's up");
    // Killed once the store holds the line saying the slow create started: the
    // create is then in flight, and the log has lines from inside `up`.
    const store = new SqliteStore(join(dataDir, "driftless.db"));
    let written = "";
    try {
      written = await until(
        async () => {
          const running = (await store.listRuns("site", 1))[0];
          const text = running ? (await store.readLog(running.id)).text : "";
          return /start create urn:\S+::slow\.html/.test(text) && text;
        },
        "the slow create in the stored log",
        120_000,
      );
    } finally {
      store.close();
    }
    await child.kill();

    const reconciler = await Reconciler.create({
      dataDir,
      targets: [killedTarget],
      installDependencies: false,
      logger: pino({ level: "silent" }),
    });
    try {
      const interrupted = (await reconciler.history("site"))[0] as RunRecord;
      expect(interrupted.result).toBe("interrupted");
      const log = await reconciler.runLog(interrupted.id);
      expect(log?.complete).toBe(true);
      expect(log?.text.startsWith(written)).toBe(true);
      expect(log?.text).toMatch(
        /\[refresh\] refresh[\s\S]*\[preview\] preview[\s\S]*\[apply\] up[\s\S]*start create urn:\S+::slow\.html/,
      );
      expect(log?.text).not.toMatch(/\[apply\] applied/);
      expect((await reconciler.run(interrupted.id))?.log).toMatch(/start create urn:\S+::slow\.html$/m);
    } finally {
      await reconciler.stop();
    }
  });
});
