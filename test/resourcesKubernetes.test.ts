// The resource inventory on the lifelike cluster with upstream's Kubernetes
// provider: a Namespace, a ConfigBundle and a WebService from @driftless/core,
// each object's sync state and health read from the stack's state, after an
// apply, a hand edit and a deleted Service (detect mode), and a rollout that
// never becomes Ready. Then a pull request's review stack in a Namespace of its
// own (`shop-pr-<n>`), rolled out and deleted on close beside the untouched base.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Notifier,
  type PullRequestEvent,
  Reconciler,
  type ResourceEntry,
  ReviewStacks,
  type TargetSpec,
} from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NEVER_READY_MARKER, startCluster, type TestCluster } from "./support/cluster.js";
import { clusterTarget } from "./support/clusterTarget.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, git, type TestRepo } from "./support/git.js";
import { untilAsync } from "./support/wait.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-inventory/", import.meta.url));
const NS = "inventory";
const IMAGE_PATH = "spec.template.spec.containers[0].image";

interface App {
  image: string;
  rolloutTimeoutSeconds: number;
  progressDeadlineSeconds: number;
}

interface DeploymentView {
  metadata: { generation?: number };
  spec: { template: { spec: { containers: { name: string; image: string }[] } } };
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
}

describe("the resource inventory on a lifelike cluster", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let app: App;
  let first: string;

  const spec = (overrides: Partial<TargetSpec> = {}): TargetSpec =>
    clusterTarget("inv", { repo, cluster, sandbox }, overrides);
  const commit = (edit: (a: App) => void, message: string) => {
    edit(app);
    return repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, message);
  };
  /** The inventory's Kubernetes objects by `Kind/name`. */
  const objects = async () => {
    const inventory = await reconciler.resources("inv");
    const byKey = new Map<string, ResourceEntry>();
    for (const r of inventory?.resources ?? [])
      if (r.kubernetes) byKey.set(`${r.kubernetes.kind}/${r.kubernetes.name}`, r);
    return { inventory, byKey };
  };
  const deploymentPath = `/apis/apps/v1/namespaces/${NS}/deployments/api`;
  const liveDeployment = async () => (await cluster.api<DeploymentView>("GET", deploymentPath)).body;

  beforeAll(async () => {
    cluster = await startCluster();
    sandbox = engineSandbox("driftless-k8s-inventory-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: PROGRAM });
    app = JSON.parse(readFileSync(join(PROGRAM, "app.json"), "utf8")) as App;
    first = repo.commit({}, "inventory v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [spec()],
    });
  });

  afterAll(async () => {
    await reconciler?.stop({ graceMs: 1000 });
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("shows every object synced and Healthy after an apply, with its kind, namespace and commit", async () => {
    const run = await reconciler.reconcile("inv");
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    const { inventory, byKey } = await objects();
    expect(inventory).toMatchObject({ runId: run.id, revision: first });
    expect([...byKey.keys()].sort()).toEqual(
      expect.arrayContaining(["Deployment/api", "Namespace/inventory", "Service/api"]),
    );
    for (const [key, r] of byKey) {
      expect({ key, sync: r.sync, health: r.health.status }).toEqual({
        key,
        sync: "synced",
        health: "Healthy",
      });
      expect(r.commit).toBe(first);
      expect(r.lastChange).toMatchObject({ runId: run.id, op: "create" });
    }
    expect(byKey.get("Deployment/api")).toMatchObject({
      kubernetes: { apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: "api" },
      health: { reason: "2/2 replicas available" },
    });
    const bundle = [...byKey.values()].find((r) => r.kubernetes?.kind === "ConfigMap");
    expect(bundle?.kubernetes?.name).toMatch(/^api-settings-[0-9a-f]{8}$/);
    // Components form the tree: the Deployment hangs under the WebService.
    const component = inventory?.resources.find((r) => r.urn === byKey.get("Deployment/api")?.parent);
    expect(component).toMatchObject({ type: "driftless:k8s:WebService", name: "api", custom: false });
  });

  it("shows a rollout that never becomes Ready as Progressing, then Degraded once its deadline passed", async () => {
    const broken = commit((a) => {
      a.image = `ghcr.io/acme/api:2.0.0-${NEVER_READY_MARKER}`;
      a.rolloutTimeoutSeconds = 4;
      a.progressDeadlineSeconds = 8;
    }, "api 2.0.0 (never becomes ready)");
    const run = await reconciler.reconcile("inv", { trigger: "manual" });
    expect(run.result).toBe("failed");
    expect(run.revision).toBe(broken);
    let { byKey } = await objects();
    // The provider gave up after 4 s, before the Deployment's deadline: it is still progressing.
    expect(byKey.get("Deployment/api")).toMatchObject({
      sync: "failed",
      error: expect.stringMatching(/timed out waiting to be Ready/),
      health: { status: "Progressing", reason: expect.stringMatching(/replicas (updated|available)/) },
    });
    // What the failed update did apply (the new commit's label) is not pending, and was changed by this run.
    expect(byKey.get("Namespace/inventory")).toMatchObject({
      sync: "synced",
      commit: broken,
      lastChange: { runId: run.id, op: "update" },
    });

    // The deployment controller gives up on the rollout after its deadline; a
    // refresh (detect mode) reads the Deployment again.
    const deadline = Date.now() + 60_000;
    const exceeded = (d: DeploymentView) =>
      d.status?.conditions?.find((c) => c.type === "Progressing")?.reason === "ProgressDeadlineExceeded";
    while (!exceeded(await liveDeployment())) {
      if (Date.now() > deadline) throw new Error("the Deployment never exceeded its progress deadline");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    reconciler.addTarget(spec({ mode: "detect" }));
    const check = await reconciler.reconcile("inv", { trigger: "manual" });
    expect(check.error).toBeUndefined();
    ({ byKey } = await objects());
    expect(byKey.get("Deployment/api")?.health).toEqual({
      status: "Degraded",
      reason: expect.stringMatching(/progress deadline/),
    });
  });

  it("shows a hand-edited image as drifted with its path, and a Service deleted by hand as Missing, in detect mode", async () => {
    const container = (await liveDeployment()).spec.template.spec.containers[0]!.name;
    // Another field manager takes the image over by server-side apply, as `kubectl apply --server-side --force-conflicts` would.
    const edited = await cluster.api(
      "PATCH",
      `${deploymentPath}?fieldManager=hotfix&force=true`,
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "api", namespace: NS },
        spec: { template: { spec: { containers: [{ name: container, image: "ghcr.io/acme/api:hotfix" }] } } },
      },
      "application/apply-patch+yaml",
    );
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    const deleted = await cluster.api("DELETE", `/api/v1/namespaces/${NS}/services/api`);
    expect(deleted.status).toBe(200);

    const run = await reconciler.reconcile("inv", { trigger: "manual" });
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-detected");
    const { byKey } = await objects();
    expect(byKey.get("Deployment/api")).toMatchObject({
      sync: "drifted",
      driftPaths: expect.arrayContaining([IMAGE_PATH]),
    });
    expect(byKey.get("Service/api")).toMatchObject({
      sync: "drifted",
      health: { status: "Missing", reason: expect.stringMatching(/deleted outside of Driftless/) },
    });
    expect(byKey.get("Namespace/inventory")).toMatchObject({ sync: "synced", health: { status: "Healthy" } });
    // Nothing was put back.
    expect((await cluster.api("GET", `/api/v1/namespaces/${NS}/services/api`)).status).toBe(404);
  });

  it("gives a pull request a review stack in its own Namespace, rolled out there and deleted on close; the base Namespace is untouched", async () => {
    reconciler.addTarget(
      spec({
        mode: "detect",
        reviewStacks: { stack: "pr-{number}", config: { namespace: "shop-pr-{number}" } },
      }),
    );
    const baseNamespace = async () =>
      (await cluster.api<{ metadata: { uid: string } }>("GET", `/api/v1/namespaces/${NS}`)).body.metadata.uid;
    const baseUid = await baseNamespace();
    // The pull request's head: the first commit (a good image), as a Git host keeps it.
    git(repo.work, "push", "--quiet", "origin", `${first}:refs/pull/7/head`);
    // The Git host is not what this test is about (test/reviewStacks.test.ts runs Gitea): a stand-in records the comments.
    const comments: string[] = [];
    const host = {
      kind: "fake",
      repoOf: () => ({ owner: "acme", name: "inv" }),
      setStatus: async () => undefined,
      upsertComment: async (_r: unknown, _n: number, _m: string, body: string) => {
        comments.push(body);
      },
      pullRequestOpen: async () => true,
    };
    const notifier = {
      hosts: [host],
      queue: {
        push: (_k: string, _w: string, send: (s: AbortSignal) => Promise<void>) =>
          void send(AbortSignal.timeout(5000)),
      },
      redact: (text: string) => text,
      setStatus: () => undefined,
    } as unknown as Notifier;
    const stacks = new ReviewStacks(reconciler, notifier);
    const event = (action: string): PullRequestEvent => ({
      action,
      number: 7,
      repoUrls: [repo.fileUrl],
      baseRef: "main",
      headSha: first,
      headRef: "feature",
      fork: false,
    });
    try {
      expect(stacks.handle(event("opened"))).toMatchObject({ applying: ["inv"] });
      const applied = await untilAsync(
        async () => {
          const r = await reconciler.reviewStacks.getReviewStack("inv", 7);
          return r && r.state !== "applying" ? r : undefined;
        },
        "the review stack applied",
        180_000,
      );
      expect(applied).toMatchObject({ state: "applied", stack: "pr-7" });
      const deployment = (
        await cluster.api<DeploymentView & { status?: { availableReplicas?: number } }>(
          "GET",
          "/apis/apps/v1/namespaces/shop-pr-7/deployments/api",
        )
      ).body;
      expect(deployment.status?.availableReplicas).toBe(2);
      expect(deployment.spec.template.spec.containers[0]?.image).toBe("ghcr.io/acme/api:1.0.0");

      stacks.handle(event("closed"));
      await untilAsync(
        async () => (await reconciler.reviewStacks.getReviewStack("inv", 7)) === undefined,
        "the review stack destroyed",
        180_000,
      );
      const gone = await cluster.api<{ status?: { phase?: string } }>("GET", "/api/v1/namespaces/shop-pr-7");
      // Deleted, or on its way out while its objects are finalised.
      expect(gone.status === 404 || gone.body.status?.phase === "Terminating").toBe(true);
      expect(reconciler.target("inv-pr-7")).toBeUndefined();
      expect(comments.at(-1)).toContain("destroyed");
      // The base target's Namespace is the same object throughout.
      expect(await baseNamespace()).toBe(baseUid);
    } finally {
      stacks.close();
    }
  });
});
