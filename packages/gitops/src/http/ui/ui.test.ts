import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteStore } from "../../store/sqlite/store.js";
import type { Condition, RunRecord, TargetStatus } from "../../types.js";
import type { Identity } from "../auth/identity.js";
import { csrfValid, Sessions, sessionCookie, sessionKey } from "./account/session.js";
import { escapeHtml, html, htmlRedactor } from "./html.js";
import { stepTimings } from "./run.js";
import { conditionStatusText, displayState, waitingFor } from "./state.js";

const cond = (type: Condition["type"], status: Condition["status"], reason: string): Condition => ({
  type,
  status,
  reason,
  message: `${type} ${reason}`,
  since: "2026-01-01T00:00:00.000Z",
});
const status = (conditions: Condition[], extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name: "site",
  conditions,
  updatedAt: "2026-01-01T00:00:00.000Z",
  ...extra,
});
const request = (headers: Record<string, string>, encrypted = false) =>
  ({ headers, socket: { encrypted } }) as unknown as IncomingMessage;

describe("html", () => {
  it("escapes every interpolated value and keeps fragments it made", () => {
    const name = `<script>alert("x")</script>&'`;
    const out = html`<p title="${name}">${name}${html`<b>${name}</b>`}</p>`.toString();
    expect(out).not.toContain("<script>");
    expect(out).toBe(
      `<p title="${escapeHtml(name)}">${escapeHtml(name)}<b>${escapeHtml(name)}</b></p>`.toString(),
    );
    expect(escapeHtml(name)).toBe("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
  });

  it("redacts a secret in a page both as it is and HTML-escaped", () => {
    const redact = htmlRedactor(["p<ss&word", undefined]);
    expect(redact(`a p<ss&word b ${escapeHtml("p<ss&word")}`)).toBe("a [redacted] b [redacted]");
  });
});

describe("displayState", () => {
  it("puts a run in progress first, then stalls, drift, suspension and health", () => {
    const ready = cond("Ready", true, "Applied");
    expect(displayState(status([ready, cond("Reconciling", true, "Progressing")]), true).state).toBe(
      "Reconciling",
    );
    expect(displayState(status([ready, cond("Stalled", true, "ProgramFailed")]), false).state).toBe(
      "Stalled",
    );
    expect(displayState(status([ready, cond("Drifted", true, "DriftDetected")]), false)).toMatchObject({
      state: "Drifted",
      reason: "DriftDetected",
    });
    expect(displayState(status([ready]), true).state).toBe("Suspended");
    expect(displayState(status([ready]), false).state).toBe("Ready");
    expect(displayState(status([cond("Ready", false, "AwaitingApproval")]), false)).toMatchObject({
      state: "NotReady",
      reason: "AwaitingApproval",
    });
    expect(displayState(status([]), false).state).toBe("Unknown");
    // Drift not checked since a run that ended early is not drift found.
    expect(displayState(status([ready, cond("Drifted", "Unknown", "NotChecked")]), false).state).toBe(
      "Ready",
    );
  });

  it("names a condition's status as Kubernetes does, Unknown included", () => {
    expect([true, false, "Unknown"].map((s) => conditionStatusText(s as Condition["status"]))).toEqual([
      "True",
      "False",
      "Unknown",
    ]);
  });

  it("says what a target waits for", () => {
    const counts = { create: 0, update: 1, delete: 1, replace: 0, same: 2 };
    const held = { revision: "a".repeat(40), runId: "r", counts, digest: "d", plannedAt: "t" };
    expect(waitingFor(status([], { awaitingApproval: held }))).toMatch(/^approval of .* at aaaaaaaaaaaa$/);
    expect(waitingFor(status([], { deferredUntil: "2026-01-02T00:00:00.000Z" }))).toBe(
      "change window opening 2026-01-02T00:00:00.000Z",
    );
    expect(
      waitingFor(status([], { pendingPromotion: { revision: "b".repeat(40), dueAt: "2026-01-03" } })),
    ).toBe("promotion of bbbbbbbbbbbb after its soak, at 2026-01-03");
    expect(waitingFor(status([cond("Ready", false, "DependencyNotReady")]))).toMatch(/^dependency: /);
    expect(waitingFor(status([cond("Ready", true, "Applied")]))).toBeUndefined();
  });
});

describe("stepTimings", () => {
  it("reads the steps summary a run writes last in its log", () => {
    const run = {
      log: [
        "2026-01-01T00:00:00.000Z [resolve] main is at abc",
        "2026-01-01T00:00:02.000Z [steps] resolveRevision 12 ms; decide 0 ms; preview 1530 ms",
      ].join("\n"),
    } as RunRecord;
    expect(stepTimings(run)).toEqual([
      { step: "resolveRevision", ms: 12 },
      { step: "decide", ms: 0 },
      { step: "preview", ms: 1530 },
    ]);
    expect(stepTimings({ log: "2026-01-01T00:00:00.000Z [resolve] x" } as RunRecord)).toEqual([]);
  });
});

describe("sessions", () => {
  const key = sessionKey("token-a");
  const ada: Identity = {
    id: "oidc:https://login.example.com#ada",
    kind: "user",
    name: "ada",
    email: "ada@example.com",
    groups: ["acme", "acme:platform"],
    roles: [],
  };
  const cookieOf = (session: { cookie: string }) => `other=1; driftless_session=${session.cookie}`;

  it("accepts its own signed cookie in another process with the same key, and checks the CSRF token", async () => {
    const session = new Sessions({ keys: () => [key] }).create(ada);
    // A restart, or another replica: nothing held, the signature decides.
    const again = await new Sessions({ keys: () => [sessionKey("token-b"), key] }).get(
      request({ cookie: cookieOf(session) }),
    );
    expect(again).toEqual(session);
    expect(csrfValid(again, session.csrf)).toBe(true);
    expect(csrfValid(again, "forged")).toBe(false);
    expect(csrfValid(undefined, session.csrf)).toBe(false);
    expect(session.cookie).not.toContain("token-a");
  });

  it("refuses a cookie signed with another key, altered, expired or logged out", async () => {
    let now = 1_000_000_000_000;
    const sessions = new Sessions({ keys: () => [key], ttlMs: 60_000, now: () => now });
    const anonymous = sessions.create(undefined);
    const [id, exp, , mac] = anonymous.cookie.split(".");
    const who = sessions.create(ada).cookie.split(".")[2];
    const promoted = { cookie: `${id}.${exp}.${who}.${mac}` };
    expect(await sessions.get(request({ cookie: cookieOf(promoted) }))).toBeUndefined();
    // Another group written into a genuine cookie: the HMAC covers the identity too.
    const [sid, sexp, , smac] = sessions.create(ada).cookie.split(".");
    const wider = Buffer.from(JSON.stringify({ i: ada.id, k: "user", n: "ada", g: ["admins"] })).toString(
      "base64url",
    );
    expect(
      await sessions.get(request({ cookie: cookieOf({ cookie: `${sid}.${sexp}.${wider}.${smac}` }) })),
    ).toBeUndefined();
    expect(
      await new Sessions({ keys: () => [sessionKey("other")] }).get(request({ cookie: cookieOf(anonymous) })),
    ).toBeUndefined();
    const session = sessions.create(ada);
    expect((await sessions.get(request({ cookie: cookieOf(session) })))?.authenticated).toBe(true);
    now += 61_000;
    expect(await sessions.get(request({ cookie: cookieOf(session) }))).toBeUndefined();
    const fresh = sessions.create(ada);
    await sessions.revoke(fresh);
    expect(await sessions.get(request({ cookie: cookieOf(fresh) }))).toBeUndefined();
  });

  it("keeps logouts in the store, refused by another process and after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "driftless-sessions-"));
    const file = join(dir, "driftless.db");
    const first = new SqliteStore(file);
    const other = new SqliteStore(file);
    try {
      const sessions = new Sessions({ keys: () => [key], revocations: first });
      const session = sessions.create(ada);
      await sessions.revoke(session);
      first.close();
      const restarted = new Sessions({ keys: () => [key], revocations: other });
      expect(await restarted.get(request({ cookie: cookieOf(session) }))).toBeUndefined();
      expect(await restarted.get(request({ cookie: cookieOf(restarted.create(ada)) }))).toBeDefined();
    } finally {
      first.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("carries who signed in, and the ID token only while the cookie stays small", async () => {
    const sessions = new Sessions({ keys: () => [key] });
    const small = sessions.create(ada, "a.b.c");
    const back = await sessions.get(request({ cookie: cookieOf(small) }));
    expect(back).toMatchObject({ authenticated: true, identity: ada, idToken: "a.b.c" });
    const large = sessions.create(ada, "x".repeat(5000));
    expect(large.idToken).toBeUndefined();
    expect((await sessions.get(request({ cookie: cookieOf(large) })))?.identity).toEqual(ada);
    const many = { ...ada, groups: Array.from({ length: 400 }, (_, i) => `org-${i}:team-${i}`) };
    expect(() => sessions.create(many)).toThrow(/ada \(400 groups\) is too large for a session cookie/);
  });

  it("sets an HttpOnly, SameSite=Strict cookie that expires with the session, Secure only under TLS", () => {
    const session = new Sessions({ keys: () => [key] }).create(undefined);
    expect(sessionCookie(request({}), "/ui", session, session.expiresAt - 3600_000)).toBe(
      `driftless_session=${session.cookie}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=3600`,
    );
    expect(sessionCookie(request({}, true), "/ui", session)).toMatch(/; Secure; Max-Age=\d+$/);
    expect(sessionCookie(request({}), "/ui", undefined)).toMatch(/^driftless_session=; .*Max-Age=0$/);
  });
});
