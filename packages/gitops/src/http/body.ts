import type { IncomingMessage } from "node:http";

/** Why a body could not be read. */
export type BodyFailure = "too-large" | "aborted";

/**
 * Reads a request body as UTF-8, refusing more than `limit` bytes: a declared
 * `Content-Length` over the limit is refused before anything is read, and a
 * streamed body is cut off as soon as it passes the limit.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string | BodyFailure> {
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
