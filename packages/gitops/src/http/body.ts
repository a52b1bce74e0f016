import type { IncomingMessage } from "node:http";

/**
 * Why a body could not be read. `consumed`: a framework's body parser (such as
 * a global `express.json()`) read the stream first and kept no raw bytes.
 */
export type BodyFailure = "too-large" | "aborted" | "consumed";

/**
 * What to answer when a body parser got there first: webhook signatures are
 * computed over the exact bytes, which a parsed object no longer has.
 */
export const CONSUMED_BODY_MESSAGE =
  "the request body was already read by a body parser (such as a global express.json()) and its raw bytes were not kept: " +
  "mount the driftless handler before the parser, or keep the bytes in req.rawBody " +
  "(express.json({ verify: (req, _res, buf) => { req.rawBody = buf; } }))";

/** A request a framework may have decorated: `rawBody` as set by express `verify` hooks and raw-body plugins. */
interface FrameworkRequest extends IncomingMessage {
  rawBody?: unknown;
  /** Set by body-parser (express) once it read the stream. */
  _body?: unknown;
}

/**
 * Reads a request body as UTF-8, refusing more than `limit` bytes: a declared
 * `Content-Length` over the limit is refused before anything is read, and a
 * streamed body is cut off as soon as it passes the limit. When a framework
 * already read the stream, its `req.rawBody` (Buffer or string) is used; without
 * it the result is `consumed` rather than a wait for data that never comes.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string | BodyFailure> {
  const { rawBody, _body } = req as FrameworkRequest;
  if (typeof rawBody === "string" || rawBody instanceof Uint8Array) {
    const bytes = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
    return Promise.resolve(bytes.length > limit ? "too-large" : bytes.toString("utf8"));
  }
  if (req.readableEnded || _body === true) return Promise.resolve("consumed");
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve("too-large");
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: string | BodyFailure) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish("too-large");
        // Keep draining so the response can still be written on this connection.
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => finish(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => finish("aborted"));
    req.on("close", () => finish("aborted"));
  });
}
