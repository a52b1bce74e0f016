// The standalone HTTP server around the handler, with graceful shutdown.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Reconciler } from "../reconciler.js";
import { createHandler, type DriftlessHandler, type HandlerOptions } from "./handler.js";

/** Options for {@link listen}: where to listen, plus everything {@link createHandler} takes. */
export interface ServeOptions extends HandlerOptions {
  /** Interface to bind. @default "127.0.0.1" */
  readonly host?: string;
  /** Port; `0` picks a free one. @default 8080 */
  readonly port?: number;
  /**
   * Most connections open at once; more are closed as they arrive. Keeps
   * file handles for the probes, the store and the engine when clients hold
   * many connections open. Keep it above `streams.max`.
   * @default 1000
   */
  readonly maxConnections?: number;
}

/** Options for {@link DriftlessServer.shutdown}. */
export interface ShutdownOptions {
  /** How long runs in progress may take to finish before they are cancelled through the engine. @default 30000 */
  readonly graceMs?: number;
}

/** The standalone server: the driftless handler on its own `node:http` server. */
export interface DriftlessServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly handler: DriftlessHandler;
  /**
   * Graceful shutdown: `/readyz` turns 503, no new connections are accepted,
   * the reconciler stops scheduling and gets `graceMs` for runs in progress,
   * then cancels the rest through the engine (no stack stays locked) and closes
   * its store; finally the server closes. Resolves `true` when no run had to be cancelled.
   */
  shutdown(options?: ShutdownOptions): Promise<boolean>;
  /** Closes the server only; the reconciler is left running. */
  close(): Promise<void>;
}

/**
 * Serves a reconciler over HTTP on its own server. Scheduling is not started
 * here: call `reconciler.start()` when the service should begin reconciling.
 */
export async function listen(reconciler: Reconciler, options: ServeOptions = {}): Promise<DriftlessServer> {
  const handler = createHandler(reconciler, options);
  // Not an ES import of `node:http`: that reads its `WebSocket` getter, which loads Node's bundled
  // undici (about 13 MB) into every process importing the package, serving or not.
  const server = process.getBuiltinModule("node:http").createServer((req, res) => handler(req, res));
  // Slow or hostile clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  // Streams are ended by their own lifetime (see `streams`); this bounds everything else.
  server.maxConnections = options.maxConnections ?? 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  let stopping: Promise<boolean> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    server,
    handler,
    close: async () => {
      // Ends the dashboard's event streams first: the server waits for open connections.
      handler.close();
      await close();
    },
    shutdown(shutdownOptions = {}) {
      stopping ??= (async () => {
        handler.drain();
        const closed = close();
        const clean = await reconciler.stop({ graceMs: shutdownOptions.graceMs ?? 30_000 });
        server.closeAllConnections();
        await closed;
        handler.close();
        return clean;
      })();
      return stopping;
    },
  };
}
