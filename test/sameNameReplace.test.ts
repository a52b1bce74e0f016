// Replacements of objects with fixed names, end to end through upstream's
// Pulumi Kubernetes provider onto the lifelike cluster: a Secret edited by
// hand is put back in place (never deleted) and reported as drift without its
// value, and a plan that would replace an object by itself create-before-delete
// (pulumi-kubernetes#4522: the replacement updates the existing object, then
// deleting the replaced one deletes it) stalls until a person approves
// deleting it first.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DriftlessServer, listen, Reconciler, type RunRecord, type TargetSpec } from "@driftless/gitops";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";

const PROGRAM = fileURLToPath(new URL("./fixtures/k8s-ledger-program/", import.meta.url));
const NS = "ledger";
const TOKEN = "same-name-test-token";
const DECLARED = "declared-Pa55word-4f7c";
const HAND_EDITED = "hand-edited-Pa55word-9e21";
const b64 = (text: string) => Buffer.from(text).toString("base64");

interface KubeObject {
  metadata: { name: string; uid?: string; resourceVersion?: string };
  data?: Record<string, string>;
  spec?: { selector?: { matchLabels?: Record<string, string> } };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Reads an object every 50 ms until stopped, recording whether it was ever
 * missing (and its uids): what a Pod starting at that moment would have seen.
 */
function watchObject(cluster: TestCluster, path: string) {
  const seen = { missing: 0, uids: new Set<string>() };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { status, body } = await cluster.api<KubeObject>("GET", path);
      if (status === 404) seen.missing++;
      else if (body.metadata?.uid) seen.uids.add(body.metadata.uid);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe("replacements of fixed-name objects: upstream provider, lifelike cluster", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let reconciler: Reconciler;
  let server: DriftlessServer;
  let app: {
    raw: { selector: Record<string, string>; storage?: string; deleteBeforeReplace?: boolean };
  };

  const spec = (): TargetSpec => ({
    name: "ledger",
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { kubeconfig: cluster.kubeconfigPath },
    secretConfig: { dbPassword: DECLARED },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH, PATH: cluster.path },
    interval: "1h",
    resync: "1h",
    timeout: "5m",
  });
  const secretPath = `/api/v1/namespaces/${NS}/secrets/ledger-db`;
  const rawPath = `/apis/apps/v1/namespaces/${NS}/deployments/raw`;
  const rawDbPath = `/apis/apps/v1/namespaces/${NS}/statefulsets/raw-db`;
  const servicePath = `/apis/apps/v1/namespaces/${NS}/deployments/ledger`;
  const get = async (path: string) => (await cluster.api<KubeObject>("GET", path)).body;
  const podNames = async () => {
    const { body } = await cluster.api<{
      items: (KubeObject & { metadata: { deletionTimestamp?: string } })[];
    }>("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io%2Fname%3Dledger`);
    return body.items
      .filter((p) => p.metadata.deletionTimestamp === undefined)
      .map((p) => p.metadata.name)
      .sort();
  };
  const manual = () => reconciler.reconcile("ledger", { trigger: "manual" });
  const api = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status, path).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    cluster = await startCluster();
    sandbox = engineSandbox("driftless-same-name-");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: PROGRAM });
    app = JSON.parse(readFileSync(join(PROGRAM, "app.json"), "utf8"));
    repo.commit({}, "ledger v1");
    reconciler = await Reconciler.create({
      dataDir: join(sandbox.dir, "data"),
      installDependencies: false,
      logger: pino({ level: "silent" }),
      targets: [spec()],
    });
    server = await listen(reconciler, { port: 0, tokens: [TOKEN] });
  });

  afterAll(async () => {
    await server?.shutdown({ graceMs: 1000 });
    await reconciler?.stop({ graceMs: 1000 });
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("applies the Secret with the declared value", async () => {
    const run = await manual();
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("applied");
    expect((await get(secretPath)).data?.password).toBe(b64(DECLARED));
  });

  it("puts a hand-edited Secret back in place as drift, never deleting it, never showing a value", async () => {
    const before = await get(secretPath);
    const service = await get(servicePath);
    const podsBefore = await podNames();
    expect(podsBefore).toHaveLength(1);
    const { status } = await cluster.api(
      "PATCH",
      `${secretPath}?fieldManager=kubectl-edit`,
      { data: { password: b64(HAND_EDITED) } },
      "application/merge-patch+json",
    );
    expect(status).toBe(200);
    expect((await get(secretPath)).data?.password).toBe(b64(HAND_EDITED));

    const watch = watchObject(cluster, secretPath);
    let ran: RunRecord | undefined;
    let watched: Awaited<ReturnType<typeof watch.stop>> | undefined;
    try {
      ran = await manual();
    } finally {
      watched = await watch.stop();
    }
    const run = ran as RunRecord;
    const seen = watched;
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("drift-corrected");
    expect(run.drift).toBe(true);
    expect(run.log).not.toMatch(/configuration or dependency outputs changed/);
    // Updated in place: the same object all along, never missing, with the declared value again.
    const step = run.plan?.find((s) => s.urn.endsWith("kubernetes:core/v1:Secret::ledger-db"));
    expect(step).toMatchObject({ op: "update" });
    expect(step?.diffs).toEqual([
      expect.objectContaining({ path: "data.password", old: "[secret]", new: "[secret]" }),
    ]);
    expect(seen.missing).toBe(0);
    expect([...seen.uids]).toEqual([before.metadata.uid]);
    const after = await get(secretPath);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.data?.password).toBe(b64(DECLARED));
    // The service reading it was left alone: same Deployment, same Pod (a replacement of
    // the Secret would have deleted and created the Deployment with it).
    expect((await get(servicePath)).metadata.uid).toBe(service.metadata.uid);
    expect(await podNames()).toEqual(podsBefore);

    // Neither value, plain or base64, in the run, the API, the dashboard or the data directory.
    const history = await reconciler.history("ledger");
    const texts = [
      JSON.stringify(history),
      JSON.stringify(await reconciler.status("ledger")),
      await api("/targets/ledger"),
      await api("/targets/ledger/runs"),
      await api(`/runs/${run.id}`),
      await api(`/runs/${run.id}/log`),
      await api("/ui"),
      await api("/ui/targets/ledger"),
      await api(`/ui/runs/${run.id}`),
      ...filesUnder(join(sandbox.dir, "data")).map((file) => readFileSync(file, "latin1")),
    ];
    for (const text of texts) {
      for (const value of [DECLARED, HAND_EDITED, b64(DECLARED), b64(HAND_EDITED)])
        expect(text).not.toContain(value);
    }
  });

  it("stalls a change of a StatefulSet's volumeClaimTemplates, deleting nothing", async () => {
    // The provider built here does not replace a StatefulSet for this field: it
    // plans an update, which the API server refuses (the field is immutable),
    // so the preview fails and nothing is touched.
    const before = await get(rawDbPath);
    app.raw = { ...app.raw, storage: "2Gi" };
    const revision = repo.commit(
      { "app.json": `${JSON.stringify(app, null, 2)}\n` },
      "raw-db: larger volumes",
    );
    const stalled = await reconciler.reconcile("ledger", { trigger: "webhook" });
    expect(stalled.result).toBe("stalled");
    expect(stalled.revision).toBe(revision);
    expect(stalled.error).toMatch(/StatefulSet\.apps "raw-db" is invalid: spec: Forbidden/);
    expect(stalled.plan ?? []).toEqual([]);
    const after = await get(rawDbPath);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(JSON.stringify(after.spec)).toContain('"storage":"1Gi"');
    // Back as it was, so the next case starts from an applied revision.
    app.raw = { selector: app.raw.selector };
    repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, "raw-db: volumes as before");
    expect((await reconciler.reconcile("ledger", { trigger: "webhook" })).result).toMatch(
      /^(applied|unchanged)$/,
    );
  });

  it("stalls a create-before-delete replacement of an object by itself, deleting nothing, until approved", async () => {
    const before = await get(rawPath);
    // An immutable field changes, and the program insists on creating the replacement first.
    app.raw = { selector: { app: "raw", track: "stable" }, deleteBeforeReplace: false };
    const revision = repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, "raw: new selector");
    const stalled = await reconciler.reconcile("ledger", { trigger: "webhook" });
    expect(stalled.result).toBe("stalled");
    expect(stalled.revision).toBe(revision);
    expect(stalled.error).toContain(
      "urn:pulumi:dev::ledger::kubernetes:apps/v1:Deployment::raw (Deployment ledger/raw)",
    );
    expect(stalled.error).toContain("`deleteBeforeReplace: true`");
    expect((await reconciler.status("ledger")).stalledRevision).toBe(revision);
    // Nothing was deleted or changed.
    const still = await get(rawPath);
    expect(still.metadata.uid).toBe(before.metadata.uid);
    expect(still.spec?.selector?.matchLabels).toEqual({ app: "raw" });

    // A person accepts deleting it first: delete, then create, and the run applies.
    const applied = await (await reconciler.approve("ledger", { by: "Ada", reason: "raw may restart" })).done;
    expect(applied.error).toBeUndefined();
    expect(applied.result).toBe("applied");
    expect(applied.log).toContain("replaced delete-before-replace");
    const after = await get(rawPath);
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
    expect(after.spec?.selector?.matchLabels).toEqual({ app: "raw", track: "stable" });
    expect(applied.plan?.find((s) => s.urn.endsWith("::raw"))).toMatchObject({
      op: "replace",
      replaceOrder: "delete-before-replace",
    });
  });
});
