import { describe, expect, it } from "vitest";
import type { PlannedStep, StateResource } from "../engine/types.js";
import type { ResourceNode } from "../types.js";
import { buildInventory, type InventoryInput, resourceTree, syncCounts, urnName } from "./inventory.js";

const URN = "urn:pulumi:dev::site";
const STACK = `${URN}::pulumi:pulumi:Stack::site-dev`;
const PROVIDER = `${URN}::pulumi:providers:kubernetes::default_4_18_0`;
const WEB = `${URN}::driftless:k8s:WebService::web`;
const DEPLOY = `${URN}::driftless:k8s:WebService$kubernetes:apps/v1:Deployment::web`;
const SERVICE = `${URN}::driftless:k8s:WebService$kubernetes:core/v1:Service::web`;
const BUCKET = `${URN}::aws:s3/bucketV2:BucketV2::assets`;

const SECRET = {
  "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  ciphertext: "v1:c2VjcmV0",
};

// The stack's resources as the checkpoint records them (outputs trimmed).
const state: StateResource[] = [
  { urn: STACK, type: "pulumi:pulumi:Stack", custom: false, outputs: { url: SECRET } },
  { urn: PROVIDER, type: "pulumi:providers:kubernetes", custom: true, outputs: { kubeconfig: SECRET } },
  { urn: WEB, type: "driftless:k8s:WebService", custom: false, parent: STACK },
  {
    urn: DEPLOY,
    type: "kubernetes:apps/v1:Deployment",
    custom: true,
    parent: WEB,
    provider: `${PROVIDER}::0c5e7a0e-2b1f-4c43-9d1e-5a3f0b7e9c11`,
    protect: true,
    outputs: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "web-3kd9x",
        namespace: "apps",
        generation: 1,
        labels: { "driftless.dev/commit": "a".repeat(40) },
        annotations: { token: SECRET, "driftless.dev/commit": "c".repeat(40) },
      },
      spec: { replicas: 2, template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } },
      status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    },
  },
  {
    urn: SERVICE,
    type: "kubernetes:core/v1:Service",
    custom: true,
    parent: WEB,
    provider: `${PROVIDER}::0c5e7a0e-2b1f-4c43-9d1e-5a3f0b7e9c11`,
    outputs: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "apps" },
      spec: { type: "ClusterIP", clusterIP: "10.0.0.12" },
      status: { loadBalancer: {} },
    },
  },
  {
    urn: BUCKET,
    type: "aws:s3/bucketV2:BucketV2",
    custom: true,
    parent: STACK,
    outputs: { bucket: "assets-1", tags: { "driftless:commit": "d".repeat(40) } },
  },
];

const input = (extra: Partial<InventoryInput> = {}): InventoryInput => ({
  target: "site",
  runId: "run-2",
  revision: "b".repeat(40),
  at: "2025-01-02T00:00:00.000Z",
  result: "applied",
  resources: state,
  ...extra,
});

const step = (op: PlannedStep["op"], urn: string, type = "kubernetes:apps/v1:Deployment"): PlannedStep => ({
  op,
  urn,
  type,
});

describe("buildInventory", () => {
  it("lists every resource with its identity, parent, provider and protect flag, and no output values", () => {
    const inventory = buildInventory(input());
    expect(inventory.resources.map((r) => r.urn)).toEqual([STACK, PROVIDER, WEB, DEPLOY, SERVICE, BUCKET]);
    const deploy = inventory.resources.find((r) => r.urn === DEPLOY);
    expect(deploy).toEqual({
      urn: DEPLOY,
      type: "kubernetes:apps/v1:Deployment",
      name: "web",
      provider: PROVIDER,
      parent: WEB,
      protect: true,
      custom: true,
      kubernetes: { apiVersion: "apps/v1", kind: "Deployment", namespace: "apps", name: "web-3kd9x" },
      sync: "synced",
      health: { status: "Healthy", reason: "2/2 replicas available" },
      commit: "c".repeat(40),
    });
    const text = JSON.stringify(inventory);
    expect(text).not.toContain("v1:c2VjcmV0");
    expect(text).not.toContain("nginx:1.27");
    expect(text).not.toContain("10.0.0.12");
  });

  it("reads the commit core's provenance stamped: an annotation first, else a label or an AWS tag", () => {
    const commits = new Map(buildInventory(input()).resources.map((r) => [r.urn, r.commit]));
    expect(commits.get(DEPLOY)).toBe("c".repeat(40));
    expect(commits.get(BUCKET)).toBe("d".repeat(40));
    expect(commits.get(SERVICE)).toBeUndefined();
  });

  it("gives resources that are not Kubernetes objects Unknown health and no Kubernetes identity", () => {
    const inventory = buildInventory(input());
    for (const urn of [STACK, PROVIDER, WEB, BUCKET]) {
      const entry = inventory.resources.find((r) => r.urn === urn);
      expect(entry?.health.status).toBe("Unknown");
      expect(entry?.kubernetes).toBeUndefined();
    }
  });

  it("records the run that changed a resource when the run applied, and keeps it across later runs", () => {
    const first = buildInventory(input({ steps: [step("update", DEPLOY), step("delete", BUCKET)] }));
    const change = { runId: "run-2", revision: "b".repeat(40), op: "update", at: "2025-01-02T00:00:00.000Z" };
    expect(first.resources.find((r) => r.urn === DEPLOY)?.lastChange).toEqual(change);
    expect(first.resources.find((r) => r.urn === SERVICE)?.lastChange).toBeUndefined();
    const later = buildInventory(input({ runId: "run-3", result: "unchanged", previous: first }));
    expect(later.resources.find((r) => r.urn === DEPLOY)?.lastChange).toEqual(change);
  });

  it("maps drift, Git changes not applied and engine errors to drifted, pending and failed, first match wins", () => {
    const newConfig = `${URN}::driftless:k8s:WebService$kubernetes:core/v1:ConfigMap::web-config`;
    const inventory = buildInventory(
      input({
        result: "drift-detected",
        steps: [
          step("update", DEPLOY),
          step("update", SERVICE, "kubernetes:core/v1:Service"),
          step("create", newConfig, "kubernetes:core/v1:ConfigMap"),
        ],
        drift: [{ urn: DEPLOY, type: "kubernetes:apps/v1:Deployment", paths: ["spec.replicas"] }],
        errors: new Map([[BUCKET, "creating bucket: AccessDenied"]]),
      }),
    );
    const byUrn = new Map(inventory.resources.map((r) => [r.urn, r]));
    expect(byUrn.get(DEPLOY)).toMatchObject({ sync: "drifted", driftPaths: ["spec.replicas"] });
    expect(byUrn.get(SERVICE)).toMatchObject({ sync: "pending", pendingOp: "update" });
    expect(byUrn.get(BUCKET)).toMatchObject({ sync: "failed", error: "creating bucket: AccessDenied" });
    expect(byUrn.get(STACK)?.sync).toBe("synced");
    // A create Git holds that is not applied: a pending entry under its parent, not in the cluster.
    expect(byUrn.get(newConfig)).toMatchObject({
      name: "web-config",
      parent: WEB,
      sync: "pending",
      pendingOp: "create",
      health: { status: "Missing", reason: "not created yet" },
    });
    expect(syncCounts(inventory.resources)).toEqual({ synced: 3, drifted: 1, pending: 2, failed: 1 });
  });

  it("hangs a pending create whose URN names no parent under the stack", () => {
    const queue = `${URN}::aws:sqs/queue:Queue::jobs`;
    const inventory = buildInventory(
      input({ result: "planned", steps: [step("create", queue, "aws:sqs/queue:Queue")] }),
    );
    expect(inventory.resources.at(-1)).toMatchObject({
      urn: queue,
      name: "jobs",
      parent: STACK,
      sync: "pending",
      pendingOp: "create",
      health: { status: "Unknown", reason: "not created yet" },
    });
  });

  it("counts an applied run's steps as done, not pending", () => {
    const inventory = buildInventory(input({ result: "drift-corrected", steps: [step("update", DEPLOY)] }));
    expect(inventory.resources.every((r) => r.sync === "synced")).toBe(true);
  });

  it("keeps a drifted resource whose paths could not be listed without paths", () => {
    const inventory = buildInventory(
      input({ result: "drift-detected", drift: [{ urn: SERVICE, type: "kubernetes:core/v1:Service" }] }),
    );
    const service = inventory.resources.find((r) => r.urn === SERVICE);
    expect(service?.sync).toBe("drifted");
    expect(service && "driftPaths" in service).toBe(false);
  });

  it("counts the steps a failed update completed as done, and the rest as pending", () => {
    const inventory = buildInventory(
      input({
        result: "failed",
        steps: [step("update", DEPLOY), step("update", SERVICE)],
        errors: new Map([[DEPLOY, "'web' timed out waiting to be Ready"]]),
        completed: new Set([SERVICE]),
      }),
    );
    const byUrn = new Map(inventory.resources.map((r) => [r.urn, r]));
    expect(byUrn.get(DEPLOY)).toMatchObject({ sync: "failed", error: "'web' timed out waiting to be Ready" });
    expect(byUrn.get(SERVICE)).toMatchObject({
      sync: "synced",
      lastChange: { runId: "run-2", op: "update" },
    });
  });

  it("shows a resource the refresh found deleted by hand as Missing, still drifted", () => {
    const inventory = buildInventory(
      input({
        result: "drift-detected",
        drift: [{ urn: SERVICE, type: "kubernetes:core/v1:Service", gone: true }],
        steps: [step("create", SERVICE)],
      }),
    );
    expect(inventory.resources.filter((r) => r.urn === SERVICE)).toEqual([
      expect.objectContaining({
        sync: "drifted",
        kubernetes: { apiVersion: "v1", kind: "Service", namespace: "apps", name: "web" },
        health: { status: "Missing", reason: "deleted outside of Driftless (found by the last refresh)" },
      }),
    ]);
  });
});

describe("resourceTree", () => {
  it("nests components' children under them, in inventory order", () => {
    const tree = resourceTree(buildInventory(input()).resources);
    const shape = (nodes: readonly ResourceNode[]): unknown[] =>
      nodes.map((n) => (n.children.length ? { [n.name]: shape(n.children) } : n.name));
    expect(shape(tree)).toEqual([{ "site-dev": [{ web: ["web", "web"] }, "assets"] }, "default_4_18_0"]);
  });

  it("makes a resource whose parent is not listed a root", () => {
    const tree = resourceTree(buildInventory(input({ resources: state.slice(3) })).resources);
    expect(tree.map((n) => n.urn)).toEqual([DEPLOY, SERVICE, BUCKET]);
  });
});

describe("urnName", () => {
  it("takes the name after the type, `::` in names included", () => {
    expect(urnName(DEPLOY)).toBe("web");
    expect(urnName(`${URN}::aws:s3:Bucket::a::b`)).toBe("a::b");
  });
});
