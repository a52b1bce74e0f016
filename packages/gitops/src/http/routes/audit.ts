/**
 * `GET /audit?target=&actor=&since=&limit=`: the audit log's newest entries
 * that match, for identities with `admin` (never under `publicReads`). The filter's
 * parsing is shared with the dashboard's audit page.
 */
import type { AuditFilter } from "../../store/store.js";
import { type Api, fail, json, MAX_ECHOED, type Route } from "../router.js";

/** A filter and limit read from a query string, or why it is refused (naming the field and the value). */
export function auditQuery(
  query: URLSearchParams,
): { readonly filter: AuditFilter & { readonly limit: number } } | { readonly error: string } {
  const text = (name: string) => {
    const value = query.get(name)?.trim();
    return value ? value.slice(0, MAX_ECHOED) : undefined;
  };
  const rawLimit = query.get("limit");
  const limit = rawLimit === null || rawLimit === "" ? 100 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return { error: `limit must be a whole number from 1 to 1000, got ${JSON.stringify(rawLimit)}` };
  }
  const rawSince = text("since");
  const since = rawSince === undefined ? undefined : new Date(rawSince);
  if (since && Number.isNaN(since.getTime())) {
    return { error: `since must be a time such as 2026-01-31T12:00:00Z, got ${JSON.stringify(rawSince)}` };
  }
  const target = text("target");
  const actor = text("actor");
  return {
    filter: {
      limit,
      ...(target ? { target } : {}),
      ...(actor ? { actor } : {}),
      ...(since ? { since: since.toISOString() } : {}),
    },
  };
}

export function auditRoutes(api: Api): Route[] {
  return [
    {
      method: "GET",
      pattern: /^\/audit$/,
      auth: "admin",
      handle: async ({ query }) => {
        if (!api.audit) return fail(404, "no audit log: the handler was created without a store for it");
        const read = auditQuery(query);
        if ("error" in read) return fail(400, read.error);
        return json(200, { entries: await api.audit.listAudit(read.filter) });
      },
    },
  ];
}
