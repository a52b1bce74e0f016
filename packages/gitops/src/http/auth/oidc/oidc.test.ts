// Single sign-on's own checks without a provider: ID tokens forged, expired,
// for another client or sign-in; the sealed sign-in state; the handler's
// `oidc` option; and a provider that is down or never answers.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Reconciler } from "../../../reconciler.js";
import { SqliteStore } from "../../../store/sqlite/store.js";
import { createHandler } from "../../handler.js";
import { type DriftlessServer, listen } from "../../server.js";
import { Sessions, sessionKey } from "../../ui/account/session.js";
import type { Identity } from "../identity.js";
import { Policy } from "../policy.js";
import { identityFromClaims, verifyIdToken } from "./idToken.js";
import { openSignIn, sealSignIn } from "./transient.js";

const ISSUER = "https://login.example.com";
const CLIENT = "driftless-ui";

describe("ID token verification", () => {
  type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  let signer: Key;
  let stranger: Key;
  let jwks: { keys: JWK[] };
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const own = await generateKeyPair("RS256");
    signer = own.privateKey;
    stranger = (await generateKeyPair("RS256")).privateKey;
    jwks = { keys: [{ ...(await exportJWK(own.publicKey)), kid: "k1", alg: "RS256" }] };
  });

  const token = (claims: Record<string, unknown>, key = signer, kid = "k1") =>
    new SignJWT({
      nonce: "n-1",
      email: "ada@example.com",
      preferred_username: "ada",
      groups: ["acme:platform"],
      ...claims,
    })
      .setProtectedHeader({ alg: "RS256", kid })
      .setIssuer((claims.iss as string | undefined) ?? ISSUER)
      .setAudience((claims.aud as string | undefined) ?? CLIENT)
      .setSubject("42")
      .setIssuedAt(now - 10)
      .setExpirationTime(now + 300)
      .sign(key);
  const verify = (idToken: string) =>
    verifyIdToken(idToken, { issuer: ISSUER, clientId: CLIENT, nonce: "n-1", keys: createLocalJWKSet(jwks) });

  it("accepts a token signed by the provider's key and names who signed in", async () => {
    const claims = await verify(await token({}));
    expect(identityFromClaims(claims, ISSUER)).toEqual({
      id: `oidc:${ISSUER}#42`,
      kind: "user",
      name: "ada",
      email: "ada@example.com",
      subject: "42",
      groups: ["acme:platform"],
      roles: [],
    });
  });

  it("keeps the subject in the dashboard session, so a binding by subject applies there", async () => {
    const sessions = new Sessions({ keys: () => [sessionKey("k")] });
    const identity = identityFromClaims(await verify(await token({})), ISSUER);
    const cookie = `driftless_session=${sessions.create(identity).cookie}`;
    const back = await sessions.get({ headers: { cookie } } as never);
    expect(back?.identity).toEqual(identity);
    const policy = new Policy({ bindings: [{ role: "admin", users: ["42"] }] });
    expect(policy.allows(back?.identity, "approve", "prod-web")).toBe(true);
  });

  it("refuses a token signed by another key, even with the provider's key id", async () => {
    await expect(verify(await token({}, stranger))).rejects.toThrow(
      /signature does not match any key the identity provider publishes/,
    );
  });

  it("refuses an expired token and says when it expired", async () => {
    const expired = await new SignJWT({ nonce: "n-1" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(CLIENT)
      .setSubject("42")
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(signer);
    await expect(verify(expired)).rejects.toThrow(
      new RegExp(`expired at ${new Date((now - 3600) * 1000).toISOString().replace(/\./g, "\\.")}`),
    );
  });

  it("refuses a token of another issuer, for another client, or of another sign-in (nonce)", async () => {
    await expect(verify(await token({ iss: "https://evil.example.com" }))).rejects.toThrow(
      /issued by "https:\/\/evil\.example\.com", not by the configured issuer/,
    );
    await expect(verify(await token({ aud: "someone-else" }))).rejects.toThrow(
      /meant for "someone-else", not for this dashboard's client "driftless-ui"/,
    );
    await expect(verify(await token({ nonce: "n-2" }))).rejects.toThrow(
      /nonce is not the one this sign-in sent/,
    );
  });

  it("refuses a groups claim that is not a list of names", () => {
    expect(() => identityFromClaims({ sub: "1", teams: { a: 1 } }, ISSUER, "teams")).toThrow(
      /"teams" claim \(auth\.oidc\.groupsClaim\) must be a list of group names/,
    );
    expect(identityFromClaims({ sub: "1", teams: "ops" }, ISSUER, "teams").groups).toEqual(["ops"]);
  });
});

describe("the sealed sign-in state", () => {
  const key = Buffer.alloc(32, 7);
  const state = { state: "s", nonce: "n", verifier: "v", redirectUri: "http://x/cb", expires: 2_000_000_000 };

  it("opens with the same key only, unaltered and before it expires", () => {
    const sealed = sealSignIn(state, [key]);
    expect(sealed).not.toContain("verifier");
    expect(openSignIn(sealed, [Buffer.alloc(32, 1), key], 1_000)).toEqual(state);
    expect(openSignIn(sealed, [Buffer.alloc(32, 1)], 1_000)).toBeUndefined();
    const [iv, body, tag] = sealed.split(".") as [string, string, string];
    // The first character holds six whole bits of the ciphertext: changing it changes a byte.
    const flipped = `${iv}.${body.startsWith("A") ? "B" : "A"}${body.slice(1)}.${tag}`;
    expect(openSignIn(flipped, [key], 1_000)).toBeUndefined();
    expect(openSignIn(sealed, [key], 2_000_000_001_000)).toBeUndefined();
  });
});

describe("a dashboard whose identity provider is down", () => {
  let reconciler: Reconciler;
  let closed: DriftlessServer;
  let hanging: DriftlessServer;
  let silent: Server;
  let closedPort: number;
  let auditDir: string;
  let audit: SqliteStore;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    auditDir = mkdtempSync(join(tmpdir(), "driftless-oidc-audit-"));
    audit = new SqliteStore(join(auditDir, "audit.db"));
    reconciler = await Reconciler.create({
      dataDir: join(auditDir, "data"),
      installDependencies: false,
      logger: pino({ level: "silent" }),
    });
    // Accepts connections and never answers.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const oidc = (issuer: string) => ({
      issuer,
      clientId: CLIENT,
      clientSecret: "s3cret-client",
      timeoutMs: 300,
    });
    // A port that was just free: nothing listens there, connections are refused.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
    closedPort = (gone.address() as { port: number }).port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    closed = await listen(reconciler, { port: 0, oidc: oidc(`http://127.0.0.1:${closedPort}`), audit });
    hanging = await listen(reconciler, { port: 0, oidc: oidc(`http://127.0.0.1:${silentPort}`) });
  });

  afterAll(async () => {
    await closed?.close();
    await hanging?.close();
    for (const socket of sockets) socket.destroy();
    silent?.close();
    await reconciler?.stop({ graceMs: 0 });
    await audit?.close();
    rmSync(auditDir, { recursive: true, force: true });
  });

  it("offers the provider's button and no token form without tokens", async () => {
    const page = await (await fetch(`${closed.url}/ui/login`)).text();
    expect(page).toContain(`href="/ui/auth/start">Sign in with 127.0.0.1:${closedPort}</a>`);
    expect(page).not.toContain('name="token"');
  });

  it("answers a clear error page when the provider refuses connections or never answers", async () => {
    const refused = await fetch(`${closed.url}/ui/auth/start`, { redirect: "manual" });
    expect(refused.status).toBe(502);
    expect(await refused.text()).toMatch(
      new RegExp(
        `Sign-in failed: The identity provider at http://127\\.0\\.0\\.1:${closedPort} could not be reached.*ECONNREFUSED`,
      ),
    );
    const slow = await fetch(`${hanging.url}/ui/auth/start`, { redirect: "manual" });
    expect(slow.status).toBe(504);
    expect(await slow.text()).toMatch(/did not answer within 0\.3 s/);
    // The service itself is unharmed.
    expect((await fetch(`${closed.url}/healthz`)).status).toBe(200);
  });

  it("refuses a callback that no sign-in in this browser started, and audits it as a refused login", async () => {
    const callback = await fetch(`${closed.url}/ui/auth/callback?code=abc&state=xyz`, {
      redirect: "manual",
      headers: { "x-request-id": "callback-1" },
    });
    expect(callback.status).toBe(400);
    expect(await callback.text()).toMatch(/This sign-in was not started in this browser/);
    const entry = await vi.waitFor(async () => {
      const [found] = await audit.listAudit({ limit: 10 });
      expect(found).toBeDefined();
      return found;
    });
    expect(entry).toMatchObject({
      action: "login",
      outcome: "refused",
      status: 400,
      requestId: "callback-1",
      detail: expect.stringMatching(/^Sign-in failed: This sign-in was not started in this browser/),
    });
    expect(entry?.actor).toBeUndefined();
    // Starting a sign-in is not a login attempt: a provider that is down is not audited as one.
    await fetch(`${closed.url}/ui/auth/start`, { redirect: "manual" });
    expect(await audit.listAudit({ limit: 10 })).toHaveLength(1);
  });

  it("refuses a bad oidc option, naming the field and the value but never the secret", () => {
    expect(() =>
      createHandler(reconciler, {
        oidc: { issuer: "ftp://x", clientId: "", clientSecret: { env: "1BAD" } } as never,
      }),
    ).toThrow(
      /`oidc\.issuer` must be an https:\/\/ URL.*got "ftp:\/\/x".*`oidc\.clientId` must not be empty/s,
    );
  });
});

describe("logout of a user signed in through a provider with an end-session endpoint", () => {
  let reconciler: Reconciler;
  let dashboard: DriftlessServer;
  const provider = createHttpServer((req, res) => {
    const issuer = `http://127.0.0.1:${(provider.address() as { port: number }).port}`;
    // Only what discovery needs: the endpoints, and end_session_endpoint.
    res.writeHead(req.url === "/.well-known/openid-configuration" ? 200 : 404, {
      "content-type": "application/json",
    });
    res.end(
      JSON.stringify({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/keys`,
        end_session_endpoint: `${issuer}/logout`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      }),
    );
  });
  const user: Identity = { id: "oidc:x#1", kind: "user", name: "ada", groups: ["ops"], roles: [] };
  const sessions = new Sessions({ keys: () => [sessionKey("session-key-for-test")] });
  let issuer: string;
  let dataDir: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(provider.address() as { port: number }).port}`;
    dataDir = mkdtempSync(join(tmpdir(), "driftless-oidc-logout-"));
    reconciler = await Reconciler.create({
      dataDir,
      installDependencies: false,
      logger: pino({ level: "silent" }),
    });
    dashboard = await listen(reconciler, {
      port: 0,
      sessions: { secret: "session-key-for-test" },
      oidc: { issuer, clientId: CLIENT, clientSecret: "s3cret-client" },
    });
  });

  afterAll(async () => {
    await dashboard?.close();
    provider.close();
    await reconciler?.stop({ graceMs: 0 });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const logout = async (idToken?: string) => {
    const session = sessions.create(user, idToken);
    const cookie = `driftless_session=${session.cookie}`;
    const me = await fetch(`${dashboard.url}/ui/me`, { headers: { cookie } });
    expect(await me.text()).toContain('<span id="me-name">ada</span>');
    const response = await fetch(`${dashboard.url}/ui/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: session.csrf }).toString(),
    });
    expect(response.status).toBe(303);
    expect((await fetch(`${dashboard.url}/ui/me`, { headers: { cookie }, redirect: "manual" })).status).toBe(
      303,
    );
    return new URL(response.headers.get("location") ?? "");
  };

  it("sends the browser to the provider's end-session endpoint with the ID token as a hint", async () => {
    const to = await logout("header.payload.signature");
    expect(`${to.origin}${to.pathname}`).toBe(`${issuer}/logout`);
    expect(to.searchParams.get("id_token_hint")).toBe("header.payload.signature");
    expect(to.searchParams.get("post_logout_redirect_uri")).toBe(`${dashboard.url}/ui/login`);
  });

  it("names the client instead when the ID token was not kept", async () => {
    const to = await logout();
    expect(to.searchParams.get("id_token_hint")).toBeNull();
    expect(to.searchParams.get("client_id")).toBe(CLIENT);
  });
});
