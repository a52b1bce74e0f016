/**
 * What the dashboard's route modules (actions, personal tokens, sign-in)
 * borrow from ./routes.ts: one set of helpers, made once per handler, so
 * every page answers, refuses and checks forms the same way.
 */
import type { IncomingMessage } from "node:http";
import type { Reply, RequestContext, Route } from "../router.js";
import type { Session } from "./account/session.js";
import type { Html } from "./html.js";
import type { ViewContext } from "./layout.js";

/** The dashboard's helpers, as ./routes.ts makes them. */
export interface UiDeps {
  /** A dashboard route: the session identifies the caller, the router checks `auth` on `target`. */
  readonly ui: (
    route: Pick<Route, "method" | "pattern" | "auth" | "handle"> &
      Partial<Pick<Route, "target" | "maxParam" | "audit">>,
  ) => Route;
  /** An HTML page (redacted), with the security headers. */
  readonly page: (content: Html, status?: number, headers?: Record<string, string>) => Reply;
  /** A 303 to `location`. */
  readonly redirect: (location: string, headers?: Record<string, string>) => Reply;
  /** The request's form fields, or the reply refusing a body too large. */
  readonly form: (req: IncomingMessage) => Promise<URLSearchParams | Reply>;
  /** The 403 for a form whose CSRF token is not the session's; `undefined` when it is. */
  readonly csrfRefusal: (
    req: IncomingMessage,
    session: Session | undefined,
    fields: URLSearchParams,
  ) => Promise<Reply | undefined>;
  /** Who looks at a page (the request's session, read once per request) and what they may do. */
  readonly viewOf: (req: IncomingMessage, may?: RequestContext["may"]) => Promise<ViewContext>;
  /** The login form again with why, answered with `status`. */
  readonly refused: (req: IncomingMessage, message: string, status: number) => Promise<Reply>;
  /** A 404 page saying that `what` does not exist. */
  readonly notFound: (req: IncomingMessage, what: string) => Promise<Reply>;
  /** The dashboard's path as the browser sees it. */
  readonly baseOf: (req: IncomingMessage) => string;
}
