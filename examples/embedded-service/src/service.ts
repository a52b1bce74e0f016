// An existing service with its own routes that runs the driftless reconciler
// in-process and mounts its HTTP API under /driftless. Run it with
// `node src/service.ts` (Node strips the types); configure it through the
// environment variables read at the bottom.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { createHandler, Reconciler, type TargetSpec } from "@driftless/gitops";

/** Options for {@link startService}. */
export interface ServiceOptions {
  /** Where the reconciler keeps its mirrors, state and history. */
  readonly dataDir: string;
  /** Bearer token for the driftless control API, read from this environment variable. */
  readonly tokenEnv: string;
  /** Stacks to reconcile. @default [] */
  readonly targets?: readonly TargetSpec[];
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** `0` picks a free port. @default 3000 */
  readonly port?: number;
}

/** The running service. */
export interface Service {
  readonly url: string;
  readonly reconciler: Reconciler;
  /** Stops reconciling (runs get `graceMs`, then are cancelled cleanly) and closes the server. */
  stop(graceMs?: number): Promise<boolean>;
}

/** The service's own routes, which know nothing about driftless. */
function ownRoutes(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === "GET" && req.url === "/") {
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ service: "inventory", ok: true }));
    return;
  }
  res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
}

/** Starts the service: its own routes, plus the reconciler's API under `/driftless`. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const token = { env: options.tokenEnv };
  const webhookSecret = process.env.GITHUB_WEBHOOK_SECRET ? { env: "GITHUB_WEBHOOK_SECRET" } : undefined;
  const reconciler = await Reconciler.create({
    dataDir: options.dataDir,
    targets: options.targets ?? [],
    // The service's own secrets: masked in every run log, error and preview, as the targets' are.
    secrets: webhookSecret ? [token, webhookSecret] : [token],
  });
  const driftless = createHandler(reconciler, {
    prefix: "/driftless",
    // A named token: what approvals and suspensions record as who acted; `admin` may do everything.
    tokens: [{ name: "service-admin", secret: token, roles: ["admin"] }],
    webhooks: webhookSecret ? { github: webhookSecret } : {},
  });
  // Requests outside /driftless fall through to the service's own routes.
  const server = createServer((req, res) => driftless(req, res, () => ownRoutes(req, res)));
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 3000, options.host ?? "127.0.0.1", resolve),
  );
  reconciler.start();
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    reconciler,
    async stop(graceMs = 30_000) {
      // Readiness turns 503 at once, while the server keeps answering until the
      // runs are done: a load balancer sees "not ready", not a refused connection.
      driftless.drain();
      const clean = await reconciler.stop({ graceMs });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      driftless.close();
      return clean;
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const targets = process.env.DRIFTLESS_TARGETS
    ? (JSON.parse(process.env.DRIFTLESS_TARGETS) as TargetSpec[])
    : [];
  const service = await startService({
    dataDir: process.env.DRIFTLESS_DATA_DIR ?? "./.driftless",
    tokenEnv: "DRIFTLESS_TOKEN",
    targets,
    port: Number(process.env.PORT ?? 3000),
  });
  console.error(`inventory service on ${service.url}, driftless API at ${service.url}/driftless`);
  // A plain listener is enough: the reconciler's engine processes ignore the
  // signals sent to this process and its group, and exit if it dies.
  const shutdown = async () => process.exit((await service.stop()) ? 0 : 3);
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
