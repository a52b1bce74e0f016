/** Probes and metrics: `/healthz`, `/readyz` (503 while draining or stopped), `/metrics`. */
import { type Api, json, type Route } from "../router.js";

export function probeRoutes(api: Api): Route[] {
  return [
    { method: "GET", pattern: /^\/healthz$/, auth: "none", handle: () => json(200, { status: "ok" }) },
    {
      method: "GET",
      pattern: /^\/readyz$/,
      auth: "none",
      handle: async () => {
        const ready = !api.draining() && (await api.reconciler.isReady());
        const reason = api.draining()
          ? "shutting down"
          : "the scheduler is not running or the store is closed";
        return json(ready ? 200 : 503, { ready, ...(ready ? {} : { reason }) });
      },
    },
    {
      method: "GET",
      pattern: /^\/metrics$/,
      auth: "none",
      handle: async () => ({
        status: 200,
        text: await api.metrics.registry.metrics(),
        contentType: api.metrics.registry.contentType,
      }),
    },
  ];
}
