/** Read routes: targets with their status, a target's runs and promotions, one run. */

import {
  type Api,
  fail,
  json,
  type Reply,
  type RequestContext,
  type Route,
  unknownTarget,
} from "../router.js";
import { publicTarget } from "../views.js";

export function readRoutes(api: Api): Route[] {
  const { reconciler } = api;
  const view = async (name: string) => {
    const target = reconciler.target(name);
    return target ? { ...publicTarget(target), status: await reconciler.status(name) } : undefined;
  };
  /** `GET /targets/:name/<list>?limit=20`: a known target's newest entries (limit 1–1000). */
  const listing =
    (list: (name: string, limit: number) => Promise<Record<string, unknown>>) =>
    async ({ params: [name = ""], query }: RequestContext): Promise<Reply> => {
      const missing = unknownTarget(api, name);
      if (missing) return missing;
      const raw = query.get("limit");
      const limit = raw === null ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return fail(400, `limit must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
      }
      return json(200, await list(name, limit));
    };
  return [
    {
      method: "GET",
      pattern: /^\/targets$/,
      auth: "read",
      handle: async () => {
        // One store read for every target's status.
        const statuses = new Map((await reconciler.statuses()).map((s) => [s.name, s]));
        return json(200, {
          targets: reconciler.targets().map((t) => ({ ...publicTarget(t), status: statuses.get(t.name) })),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)$/,
      auth: "read",
      handle: async ({ params: [name = ""] }) => unknownTarget(api, name) ?? json(200, await view(name)),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/runs$/,
      auth: "read",
      handle: listing(async (name, limit) => ({ runs: await reconciler.history(name, limit) })),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/promotions$/,
      auth: "read",
      handle: listing(async (name, limit) => ({ promotions: await reconciler.promotions(name, limit) })),
    },
    {
      method: "GET",
      pattern: /^\/runs\/([^/]+)$/,
      auth: "read",
      handle: async ({ params: [id = ""] }) => {
        const run = await reconciler.run(id);
        return run ? json(200, run) : fail(404, `unknown run "${id}"`);
      },
    },
  ];
}
