// Approvals with the real engine and real git: a destructive change stops after
// the preview with the engine's update plan saved and pinned to the revision
// and the stack's state; approving applies exactly that plan (`up --plan`), and
// a moved revision or state means planning again. Over HTTP, with four eyes,
// the commit's author cannot approve its held plan; another person can.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DriftlessServer,
  type Identity,
  listen,
  newPersonalToken,
  type PersonalTokenRecord,
  type PersonalTokenStore,
  PulumiEngine,
  Reconciler,
  SqliteStore,
  type TargetSpec,
  tokenDigest,
} from "@driftless/gitops";
import { LocalWorkspace } from "@pulumi/pulumi/automation/index.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { siteProgramSeed, TEST_NODE_PATH } from "./support/sitePrograms.js";

const PASSPHRASE = "test-passphrase";

describe("approvals with the real engine", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let engine: PulumiEngine;
  let outDir: string;

  const pages = (names: Record<string, string>) => ({ "site.json": JSON.stringify(names) });
  const page = (name: string) => join(outDir, name);

  beforeAll(async () => {
    sandbox = engineSandbox("driftless-approval-");
    outDir = join(sandbox.dir, "out");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: siteProgramSeed(sandbox.dir) });
    repo.commit(
      pages({ "a.html": "a1", "b.html": "b1", "c.html": "c1", "d.html": "d1", "e.html": "e1" }),
      "five pages",
    );
    engine = new PulumiEngine();
    const spec: TargetSpec = {
      name: "site",
      repo: repo.fileUrl,
      stack: "prod",
      passphrase: PASSPHRASE,
      config: { outDir },
      env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
      interval: "1h",
      resync: "1h",
      refresh: false,
      requireApproval: "destructive",
      approval: { distinctFromAuthor: true },
    };
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      engine,
      logger: pino({ level: "silent" }),
      installDependencies: false,
      targets: [spec],
    });
    expect(await reconciler.reconcile("site")).toMatchObject({ result: "applied" });
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    sandbox?.dispose();
  });

  it("holds a destructive change and applies exactly the approved plan", async () => {
    const v2 = repo.commit(
      pages({ "a.html": "a2", "b.html": "b1", "c.html": "c1", "d.html": "d1" }),
      "drop e, change a",
    );
    const held = await reconciler.reconcile("site", { trigger: "webhook" });
    expect(held).toMatchObject({ result: "awaiting-approval", revision: v2 });
    expect(held.plan?.map((s) => [s.op, s.urn.split("::").at(-1)]).sort()).toEqual([
      ["delete", "e.html"],
      ["update", "a.html"],
    ]);
    const approval = (await reconciler.status("site")).awaitingApproval;
    expect(approval).toMatchObject({ revision: v2, runId: held.id, stateVersion: expect.any(String) });
    expect(existsSync(approval?.planFile ?? "")).toBe(true);
    // Nothing was applied.
    expect(existsSync(page("e.html"))).toBe(true);
    expect(readFileSync(page("a.html"), "utf8")).toBe("a1");

    // A scheduled check does not plan it again.
    const before = engine.invocations;
    expect((await reconciler.reconcile("site", { trigger: "interval", force: false })).result).toBe(
      "skipped",
    );
    expect(engine.invocations).toBe(before);

    const applied = await (await reconciler.approve("site")).done;
    expect(applied).toMatchObject({ result: "applied", revision: v2 });
    expect(applied.log).toMatch(new RegExp(`up with the plan approved from run ${held.id.slice(0, 8)}`));
    // The approved plan was applied as saved: no second preview.
    expect(applied.log).not.toMatch(/\[preview\]/);
    expect(existsSync(page("e.html"))).toBe(false);
    expect(readFileSync(page("a.html"), "utf8")).toBe("a2");
    expect((await reconciler.status("site")).awaitingApproval).toBeUndefined();
    expect(existsSync(approval?.planFile ?? "")).toBe(false);
  });

  it("plans again when the stack's state changed after the plan was made", async () => {
    const v3 = repo.commit(pages({ "a.html": "a2", "b.html": "b1", "c.html": "c1" }), "drop d");
    const held = await reconciler.reconcile("site", { trigger: "webhook" });
    expect(held.result).toBe("awaiting-approval");
    const pinned = (await reconciler.status("site")).awaitingApproval?.stateVersion;

    // Someone edits b.html by hand and refreshes the stack out of band.
    writeFileSync(page("b.html"), "b edited");
    const stack = await LocalWorkspace.selectStack(
      { stackName: "prod", workDir: join(sandbox.dir, "data", "work", "site") },
      {
        envVars: {
          ...sandbox.env,
          PULUMI_BACKEND_URL: `file://${join(sandbox.dir, "data", "state")}`,
          PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
          NODE_PATH: TEST_NODE_PATH,
        },
      },
    );
    await stack.refresh();

    const replanned = await (await reconciler.approve("site")).done;
    expect(replanned).toMatchObject({ result: "awaiting-approval", revision: v3 });
    expect(replanned.log).toMatch(/the stack's state changed since the plan was made .*; planning again/);
    const next = (await reconciler.status("site")).awaitingApproval;
    expect(next?.runId).toBe(replanned.id);
    expect(next?.stateVersion).not.toBe(pinned);
    // The new plan also puts b.html back; nothing was applied yet.
    expect(replanned.plan?.map((s) => [s.op, s.urn.split("::").at(-1)]).sort()).toEqual([
      ["delete", "d.html"],
      ["update", "b.html"],
    ]);
    expect(existsSync(page("d.html"))).toBe(true);

    const applied = await (await reconciler.approve("site")).done;
    expect(applied).toMatchObject({ result: "applied", revision: v3 });
    expect(existsSync(page("d.html"))).toBe(false);
    expect(readFileSync(page("b.html"), "utf8")).toBe("b1");
  });

  it("plans again when the ref moved past the approved revision", async () => {
    const v4 = repo.commit(pages({ "a.html": "a2", "b.html": "b1" }), "drop c");
    expect((await reconciler.reconcile("site", { trigger: "webhook" })).result).toBe("awaiting-approval");
    const v5 = repo.commit(pages({ "a.html": "a5", "b.html": "b1" }), "and change a");
    const run = await (await reconciler.approve("site", v4)).done;
    expect(run).toMatchObject({ result: "awaiting-approval", revision: v5 });
    expect((await reconciler.status("site")).awaitingApproval?.revision).toBe(v5);
    expect(existsSync(page("c.html"))).toBe(true);
  });

  it("refuses the author of a commit the approval of its held plan over HTTP, and takes another person's", async () => {
    // Personal tokens of two signed-in people (the store interface, in memory).
    const rows = new Map<string, PersonalTokenRecord>();
    const tokens: PersonalTokenStore = {
      addPersonalToken: async (r) => void rows.set(r.id, r),
      personalToken: async (id) => rows.get(id),
      listPersonalTokens: async () => [...rows.values()],
      revokePersonalToken: async () => false,
    };
    const tokenOf = async (name: string, email: string) => {
      const owner: Omit<Identity, "kind"> = { id: `oidc:gitea#${name}`, name, email, groups: [], roles: [] };
      const { id, token } = newPersonalToken();
      const now = Date.now();
      await tokens.addPersonalToken({
        id,
        label: "test",
        owner,
        digest: tokenDigest(token),
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + 3600_000).toISOString(),
      });
      return token;
    };
    // test/support/git.ts commits as author@example.com.
    const author = await tokenOf("Ann", "author@example.com");
    const reviewer = await tokenOf("Rev", "reviewer@example.com");
    // Both attempts are in the audit log, each with who and how it ended.
    const audit = new SqliteStore(":memory:");
    const server: DriftlessServer = await listen(reconciler, {
      port: 0,
      personalTokens: tokens,
      audit,
      policy: { bindings: [{ role: "admin", users: ["author@example.com", "reviewer@example.com"] }] },
    });
    try {
      const v6 = repo.commit(pages({ "a.html": "a6", "b.html": "b1" }), "change a, still without c");
      const held = await reconciler.reconcile("site", { trigger: "webhook" });
      expect(held).toMatchObject({ result: "awaiting-approval", revision: v6 });
      const approve = (token: string) =>
        fetch(`${server.url}/targets/site/approve`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ revision: v6, reason: "reviewed" }),
        });
      const refused = await approve(author);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({
        error: `personal token of Ann wrote ${v6.slice(0, 7)} and may not approve it: site needs another person's approval (approval.distinctFromAuthor)`,
      });
      expect((await reconciler.status("site")).approvedRevision).toBeUndefined();
      expect(existsSync(page("c.html"))).toBe(true);

      const accepted = await approve(reviewer);
      expect(accepted.status).toBe(202);
      const { runId } = (await accepted.json()) as { runId: string };
      await reconciler.whenIdle();
      expect(await reconciler.run(runId)).toMatchObject({
        result: "applied",
        revision: v6,
        approval: { by: "Rev", reason: "reviewed" },
      });
      expect(existsSync(page("c.html"))).toBe(false);
      expect(readFileSync(page("a.html"), "utf8")).toBe("a6");
      const entries = (await audit.listAudit({ target: "site" })).reverse();
      expect(entries.map((e) => [e.action, e.outcome, e.status, e.actor])).toEqual([
        ["approve", "refused", 403, "Ann"],
        ["approve", "ok", 202, "Rev"],
      ]);
      expect(entries[0]?.detail).toContain("may not approve it");
    } finally {
      await server.close();
      await audit.close();
    }
  });
});
