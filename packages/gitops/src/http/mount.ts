/**
 * Where the handler is mounted, seen from the browser: the path a framework
 * stripped before calling it (express's `req.baseUrl`, connect's
 * `req.originalUrl`) plus the handler's own `prefix`. Links, redirects and
 * cookie paths start with it, so the dashboard works under `app.use("/x", …)`.
 */
import type { IncomingMessage } from "node:http";

const mounts = new WeakMap<IncomingMessage, string>();

/** The path before the handler's own, stripped by the framework that called it ("" when none). */
export function frameworkMount(req: IncomingMessage): string {
  const { baseUrl, originalUrl } = req as IncomingMessage & { baseUrl?: unknown; originalUrl?: unknown };
  if (typeof baseUrl === "string") return trimSlashes(baseUrl);
  if (typeof originalUrl !== "string" || originalUrl === req.url) return "";
  const original = pathOf(originalUrl);
  const seen = pathOf(req.url ?? "/");
  // connect strips the mount and leaves "/" for the mount itself.
  const rest = seen === "/" ? "" : seen;
  return original.endsWith(rest) ? trimSlashes(original.slice(0, original.length - rest.length)) : "";
}

/** Records the external prefix of a request (framework mount plus the handler's prefix). */
export function rememberMount(req: IncomingMessage, prefix: string): void {
  mounts.set(req, `${frameworkMount(req)}${prefix}`);
}

/** The external prefix of a request: what links and redirects start with. */
export function mountOf(req: IncomingMessage, fallback: string): string {
  return mounts.get(req) ?? fallback;
}

function pathOf(url: string): string {
  return new URL(url, "http://driftless.invalid").pathname;
}

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, "");
}
