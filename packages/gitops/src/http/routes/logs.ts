/**
 * `GET /runs/:id/log`: a run's log as text, or followed live as Server-Sent
 * Events until the run ends (`?follow=1` or `Accept: text/event-stream`).
 */
import type { ServerResponse } from "node:http";
import { type Api, fail, header, type Reply, type RequestContext, type Route } from "../router.js";
import { runTarget } from "./reads.js";

/** How often a followed log that is quiet gets a comment, so proxies keep the connection open. */
export const HEARTBEAT_MS = 15_000;

/** Where to start: `?from=<offset>`, else the `Last-Event-ID` a reconnecting client sends. */
function startOffset({ req, query }: RequestContext): number | Reply {
  const raw = query.get("from") ?? header(req, "last-event-id") ?? "0";
  const from = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(from)) {
    return fail(
      400,
      `from (or Last-Event-ID) must be a log offset, a whole number from 0, got ${JSON.stringify(raw)}`,
    );
  }
  return from;
}

function wantsEvents({ req, query }: RequestContext): boolean {
  const follow = query.get("follow");
  if (follow !== null) return follow === "" || follow === "1" || follow === "true";
  return (header(req, "accept") ?? "").includes("text/event-stream");
}

/** One SSE message per stretch of log: one `data:` line per log line, its end offset as the id. */
function event(text: string, offset: number): string {
  const data = text
    .replace(/\n$/, "")
    // A lone carriage return ends a line in SSE too; each becomes a line of its own.
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("");
  return `id: ${offset}\n${data}\n`;
}

export function logRoutes(api: Api): Route[] {
  const { reconciler } = api;
  const follow = (id: string, from: number, res: ServerResponse): void => {
    const stop = new AbortController();
    // Nothing is written once the client is gone: a write to a closed socket is an error.
    const write = (text: string) => {
      if (!stop.signal.aborted) res.write(text);
    };
    res.on("close", () => stop.abort(new Error("the client went away")));
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // nginx buffers responses unless told not to; a buffered stream is no stream.
      "x-accel-buffering": "no",
    });
    write(": following the run's log\n\n");
    const heartbeat = setInterval(() => write(": heartbeat\n\n"), HEARTBEAT_MS);
    heartbeat.unref();
    void (async () => {
      try {
        for await (const chunk of reconciler.followRunLog(id, { from, signal: stop.signal })) {
          write(event(chunk.text, chunk.offset));
        }
        if (!stop.signal.aborted) {
          const run = await reconciler.run(id);
          write(`event: end\ndata: ${JSON.stringify({ result: run?.result ?? null })}\n\n`);
        }
      } catch (error) {
        // The store closed under a follower (shutdown): end the stream, the client reconnects.
        api.log?.warn({ err: error, runId: id }, "stopped following a run log");
      } finally {
        clearInterval(heartbeat);
        res.end();
      }
    })();
  };
  return [
    {
      method: "GET",
      pattern: /^\/runs\/([^/]+)\/log$/,
      auth: "read",
      target: runTarget(api),
      handle: async (ctx) => {
        const [id = ""] = ctx.params;
        const from = startOffset(ctx);
        if (typeof from !== "number") return from;
        const log = await reconciler.runLog(id, from);
        if (!log) return fail(404, `unknown run "${id}"`);
        if (wantsEvents(ctx)) return { status: 200, stream: (res) => follow(id, from, res) };
        return {
          status: 200,
          text: log.text,
          contentType: "text/plain; charset=utf-8",
          headers: { "x-log-offset": String(log.offset), "x-run-complete": String(log.complete) },
        };
      },
    },
  ];
}
