import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { readBody } from "./body.js";

describe("readBody", () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
  });

  /** Posts `body` to a server that prepares the request, then answers with readBody's result. */
  const post = async (
    prepare: (req: IncomingMessage) => Promise<void> | void,
    body: string,
    limit = 1024,
  ) => {
    server = createServer(async (req, res) => {
      await prepare(req);
      res.end(JSON.stringify(await readBody(req, limit)));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body });
    return JSON.parse(await res.text()) as string;
  };

  /** What a body parser does: read the whole stream first. */
  const consume = async (req: IncomingMessage) => {
    for await (const _chunk of req);
  };

  it("reads the stream when nothing read it before", async () => {
    expect(await post(() => undefined, '{"a":1}')).toBe('{"a":1}');
  });

  it("uses the raw bytes a framework kept in req.rawBody, as a Buffer or a string", async () => {
    const body = '{"ref":"main"}';
    const keepBuffer = async (req: IncomingMessage) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      (req as IncomingMessage & { rawBody: Buffer }).rawBody = Buffer.concat(chunks);
    };
    expect(await post(keepBuffer, body)).toBe(body);
    server?.close();
    const keepString = async (req: IncomingMessage) => {
      await consume(req);
      (req as IncomingMessage & { rawBody: string }).rawBody = body;
    };
    expect(await post(keepString, "ignored")).toBe(body);
    server?.close();
    expect(await post(keepString, "ignored", 4)).toBe("too-large");
  });

  it("says the body was consumed, instead of waiting or calling it aborted, without raw bytes", async () => {
    expect(await post(consume, '{"a":1}')).toBe("consumed");
  });
});
