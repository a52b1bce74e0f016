// Logouts through the HTTP handler of two replicas sharing one store: the
// cookie is signed (either replica accepts it), its logout is stored (either
// replica refuses it afterwards).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reconciler } from "../../../reconciler.js";
import { SqliteStore } from "../../../store/sqlite/store.js";
import { type DriftlessServer, listen } from "../../server.js";

const TOKEN = "dashboard-token-1";

describe("dashboard logout across replicas", () => {
  let dir: string;
  const servers: DriftlessServer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-logout-"));
    for (const name of ["a", "b"]) {
      // Each replica has its own data directory and connection to the one file.
      const store = new SqliteStore(join(dir, "shared.db"));
      const reconciler = await Reconciler.create({
        dataDir: join(dir, name),
        store,
        installDependencies: false,
        logger: pino({ level: "silent" }),
      });
      servers.push(await listen(reconciler, { port: 0, tokens: [TOKEN], sessions: { revocations: store } }));
    }
  });

  afterAll(async () => {
    for (const server of servers) await server.shutdown({ graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  const cookieOf = (response: Response) =>
    /driftless_session=[^;]*/.exec(response.headers.get("set-cookie") ?? "")?.[0] ?? "";
  const csrfOf = async (response: Response) =>
    /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? "";
  const post = (url: string, cookie: string, fields: Record<string, string>) =>
    fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  const overview = (server: DriftlessServer, cookie: string) =>
    fetch(`${server.url}/ui`, { redirect: "manual", headers: { cookie } });

  it("refuses on one replica a cookie logged out through the other", async () => {
    const [a, b] = servers as [DriftlessServer, DriftlessServer];
    const form = await fetch(`${a.url}/ui/login`);
    const anonymous = cookieOf(form);
    const login = await post(`${a.url}/ui/login`, anonymous, { csrf: await csrfOf(form), token: TOKEN });
    expect(login.status).toBe(303);
    const cookie = cookieOf(login);
    expect(cookie).not.toBe(anonymous);

    // Signed, so the other replica accepts it as it is.
    const page = await overview(b, cookie);
    expect(page.status).toBe(200);
    const logout = await post(`${a.url}/ui/logout`, cookie, { csrf: await csrfOf(page) });
    expect(logout.status).toBe(303);
    expect(logout.headers.get("set-cookie")).toMatch(/^driftless_session=;/);

    // A copy of the cookie kept by the browser (or a thief) is refused by both.
    for (const server of [b, a]) {
      const refused = await overview(server, cookie);
      expect(refused.status).toBe(303);
      expect(refused.headers.get("location")).toBe("/ui/login");
    }
  });
});
