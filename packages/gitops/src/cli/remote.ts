// Commands sent to a running server (`--server`): its API with a bearer token, its refusals shown as they are.
import { writeFileSync } from "node:fs";
import { type CliIO, EXIT } from "./output.js";

/** Where the token comes from when `--server` is given. */
export const TOKEN_ENV = "DRIFTLESS_TOKEN";

/** What a remote command sends: the action's body as the API takes it. */
export interface RemoteOptions {
  readonly server: string;
  /** Why (every command but `reconcile` and `preview`). */
  readonly reason?: string;
  readonly revision?: string;
  /** What `preview` plans: a branch, tag, ref or commit. */
  readonly ref?: string;
  /** Where `preview` writes its report instead of stdout. */
  readonly out?: string;
  /** Sent only when given: the server refuses it unless the token is an admin's (then "on behalf of"). */
  readonly by?: string;
  readonly json: boolean;
}

/** The commands a server takes from the CLI. */
export type RemoteAction =
  | "reconcile"
  | "preview"
  | "approve"
  | "promote"
  | "rollback"
  | "suspend"
  | "resume";

/**
 * Sends a command to a server (`POST /targets/:name/<action>`) with the token
 * in `DRIFTLESS_TOKEN`. Who acts is the token's identity; a refusal (401,
 * 403) is printed with the server's reason, naming the missing permission.
 * Returns once the server accepted the command (a run is queued, not awaited);
 * `preview` prints the server's report and exits 2 when it plans changes.
 */
export async function remoteCommand(
  target: string,
  action: RemoteAction,
  options: RemoteOptions,
  io: CliIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const token = env[TOKEN_ENV];
  if (!token) {
    io.err.write(`--server needs an API token in the environment variable ${TOKEN_ENV}\n`);
    return EXIT.usage;
  }
  let url: URL;
  try {
    url = new URL(
      `targets/${encodeURIComponent(target)}/${action}`,
      `${options.server.replace(/\/+$/, "")}/`,
    );
  } catch {
    io.err.write(
      `--server must be the server's URL, such as http://127.0.0.1:8080, got ${JSON.stringify(options.server)}\n`,
    );
    return EXIT.usage;
  }
  const body =
    action === "reconcile"
      ? {}
      : action === "preview"
        ? { ref: options.ref }
        : {
            reason: options.reason,
            ...(options.revision ? { revision: options.revision } : {}),
            ...(options.by ? { by: options.by } : {}),
          };
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      // A preview runs the engine before it answers.
      signal: AbortSignal.timeout(action === "preview" ? 600_000 : 30_000),
    });
  } catch (error) {
    io.err.write(`cannot reach ${url.origin}: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
  const text = await res.text();
  let reply: Record<string, unknown> = {};
  try {
    reply = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // A proxy's page: shown as the status alone.
  }
  if (!res.ok) {
    const why = typeof reply.error === "string" ? reply.error : `HTTP ${res.status}`;
    const prefix =
      res.status === 403
        ? "not allowed"
        : res.status === 401
          ? `the server refused the token in ${TOKEN_ENV}`
          : `${action} refused`;
    io.err.write(`${prefix} (${res.status}): ${why}\n`);
    return EXIT.failed;
  }
  if (action === "preview") {
    const { markdown, ...report } = reply;
    const text = options.json ? `${JSON.stringify(report, null, 2)}\n` : String(markdown ?? "");
    if (options.out) writeFileSync(options.out, text);
    else io.out.write(text);
    return report.changes === true ? EXIT.changes : EXIT.ok;
  }
  if (options.json) io.out.write(`${JSON.stringify(reply, null, 2)}\n`);
  else if (typeof reply.runId === "string") {
    io.out.write(`${target}: ${action} accepted by ${reply.by ?? "the server"}; run ${reply.runId} queued\n`);
  } else
    io.out.write(
      `${target}: ${action} done by ${(reply.suspension as { by?: string })?.by ?? "the server"}\n`,
    );
  return EXIT.ok;
}
