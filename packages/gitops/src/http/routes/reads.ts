/**
 * Read routes: targets with their status, a target's runs, promotions,
 * resources and their history, one run. Each needs `read` on its target; the
 * list shows only the targets the caller may read.
 */

import { resourceTree, syncCounts } from "../../run/inventory.js";
import { reviewStackViews } from "../reviewStacks/views.js";
import {
  type Api,
  fail,
  json,
  MAX_URN,
  namedTarget,
  type Reply,
  type RequestContext,
  type Route,
  unknownTarget,
} from "../router.js";
import { publicTarget } from "../views.js";

/** The target of `/runs/:id…` routes: the run's (none for an unknown run, which answers 404). */
export const runTarget =
  (api: Api) =>
  async ({ params: [id = ""] }: { readonly params: readonly string[] }): Promise<string | undefined> =>
    (await api.reconciler.run(id))?.target;

export function readRoutes(api: Api): Route[] {
  const { reconciler } = api;
  const view = async (name: string) => {
    const target = reconciler.target(name);
    return target ? { ...publicTarget(target), status: await reconciler.status(name) } : undefined;
  };
  /** `GET /targets/:name/<list>?limit=20`: a known target's newest entries (limit 1–1000). */
  const listing =
    (list: (name: string, limit: number, params: readonly string[]) => Promise<Record<string, unknown>>) =>
    async ({ params: [name = "", ...params], query }: RequestContext): Promise<Reply> => {
      const missing = unknownTarget(api, name);
      if (missing) return missing;
      const raw = query.get("limit");
      const limit = raw === null ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return fail(400, `limit must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
      }
      return json(200, await list(name, limit, params));
    };
  return [
    {
      method: "GET",
      pattern: /^\/targets$/,
      auth: "read",
      handle: async ({ may }) => {
        // One store read for every target's status.
        const statuses = new Map((await reconciler.statuses()).map((s) => [s.name, s]));
        const targets = reconciler.targets();
        const reviews = targets.some((t) => t.reviewStacks)
          ? await reconciler.reviewStacks.listReviewStacks()
          : [];
        // Review stacks are shown as children of their target, not as targets of their own.
        return json(200, {
          targets: targets
            .filter((t) => !t.review && may("read", t.name))
            .map((t) => ({
              ...publicTarget(t),
              status: statuses.get(t.name),
              ...(t.reviewStacks ? { reviewStacks: reviewStackViews(t, reviews, statuses) } : {}),
            })),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)$/,
      auth: "read",
      target: namedTarget,
      handle: async ({ params: [name = ""] }) => unknownTarget(api, name) ?? json(200, await view(name)),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/runs$/,
      auth: "read",
      target: namedTarget,
      handle: listing(async (name, limit) => ({ runs: await reconciler.history(name, limit) })),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/promotions$/,
      auth: "read",
      target: namedTarget,
      handle: listing(async (name, limit) => ({ promotions: await reconciler.promotions(name, limit) })),
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/resources$/,
      auth: "read",
      target: namedTarget,
      /**
       * `GET /targets/:name/resources[?tree=1]`: the target's inventory, a flat
       * list in state order, or with `tree=1` the roots with their `children`.
       */
      handle: async ({ params: [name = ""], query }) => {
        const missing = unknownTarget(api, name);
        if (missing) return missing;
        const tree = query.get("tree");
        if (tree !== null && !["0", "1", "true", "false"].includes(tree)) {
          return fail(400, `tree must be 1 or 0, got ${JSON.stringify(tree)}`);
        }
        const inventory = (await reconciler.resources(name)) ?? { target: name, resources: [] };
        const { resources, ...rest } = inventory;
        return json(200, {
          ...rest,
          counts: syncCounts(resources),
          resources: tree === "1" || tree === "true" ? resourceTree(resources) : resources,
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/targets\/([^/]+)\/resources\/([^/]+)\/history$/,
      auth: "read",
      target: namedTarget,
      maxParam: MAX_URN,
      /**
       * `GET /targets/:name/resources/:urn/history[?limit=]`: the runs that changed
       * the resource (its URN URL-encoded), newest first; none for a URN never seen.
       */
      handle: listing(async (name, limit, [urn = ""]) => ({
        target: name,
        urn,
        entries: await reconciler.resourceHistory(name, urn, limit),
      })),
    },
    {
      method: "GET",
      pattern: /^\/runs\/([^/]+)$/,
      auth: "read",
      target: runTarget(api),
      handle: async ({ params: [id = ""] }) => {
        const run = await reconciler.run(id);
        return run ? json(200, run) : fail(404, `unknown run "${id}"`);
      },
    },
  ];
}
