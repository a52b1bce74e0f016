// Every Kubernetes object a component creates either carries a fixed
// `metadata.name` and is replaced old one first, or has a content-addressed
// name, so its replacement is a new object. A fixed-name object replaced
// create-before-delete is the trap of pulumi-kubernetes#4522: the replacement
// updates the existing object, then deleting the replaced one deletes it.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare } from "../../test/harness.js";
import { AccessRole } from "./accessRole.js";
import { ConfigBundle } from "./configBundle.js";
import { CronTask } from "./cronTask.js";
import { Job } from "./job.js";
import { Mount } from "./mount.js";
import { Namespace } from "./namespace.js";
import { StatefulService } from "./statefulService.js";
import { TypedSecret } from "./typedSecret.js";
import { WebService } from "./webService.js";
import { Worker } from "./worker.js";

interface Child {
  readonly type: string;
  readonly name: string;
  readonly deleteBeforeReplace: boolean | undefined;
  readonly objectName: unknown;
}

/** Each Kubernetes object the program declares: its type, its options' `deleteBeforeReplace`, its `metadata.name`. */
async function children(program: () => unknown): Promise<Child[]> {
  const seen: { type: string; name: string; deleteBeforeReplace: boolean | undefined }[] = [];
  const { resources } = await declare(() => {
    pulumi.runtime.registerStackTransformation(({ type, name, opts }) => {
      if (type.startsWith("kubernetes:"))
        seen.push({
          type,
          name,
          deleteBeforeReplace: (opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
        });
      return undefined;
    });
    return program();
  });
  return seen.map((child) => ({
    ...child,
    objectName: resources.find((r) => r.type === child.type && r.name === child.name)?.inputs.metadata?.name,
  }));
}

/** Replaced old one first, unless its name is content-addressed (`<name>-<8 hex digits>`). */
function expectSafeReplacements(found: readonly Child[], contentAddressed: readonly string[] = []): void {
  for (const child of found) {
    const rolls = contentAddressed.includes(child.type);
    expect({ type: child.type, name: child.name, deleteBeforeReplace: child.deleteBeforeReplace }).toEqual({
      type: child.type,
      name: child.name,
      deleteBeforeReplace: rolls ? undefined : true,
    });
    // A content-addressed name is `<name>-<8 hex digits>`; any other is fixed, known when declared.
    if (rolls) expect(child.objectName).toMatch(new RegExp(`^${child.name}-[0-9a-f]{8}$`));
    else expect(typeof child.objectName).toBe("string");
  }
}

const image = "acme/app:1.0.0";

describe("fixed-name children are replaced old one first", () => {
  it("WebService: Deployment, Service, ServiceAccount, PodDisruptionBudget, HPA and Ingress", async () => {
    const found = await children(
      () =>
        new WebService("api", {
          image,
          namespace: "shop",
          serviceAccount: true,
          autoscaling: { minReplicas: 2, maxReplicas: 4 },
          ingress: { host: "api.example.com" },
        }),
    );
    expect(found.map((c) => c.type).sort()).toEqual(
      [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:policy/v1:PodDisruptionBudget",
      ].sort(),
    );
    expectSafeReplacements(found);
  });

  it("StatefulService: headless Service and StatefulSet with claim templates", async () => {
    const found = await children(
      () =>
        new StatefulService("queue", {
          image,
          port: 5672,
          volumeClaims: [{ name: "data", path: "/var/lib/queue", size: "1Gi" }],
        }),
    );
    expect(found.map((c) => c.type).sort()).toEqual([
      "kubernetes:apps/v1:StatefulSet",
      "kubernetes:core/v1:Service",
    ]);
    expectSafeReplacements(found);
  });

  it("Worker, CronTask and Job", async () => {
    const found = await children(() => {
      new Worker("worker", { image, serviceAccount: true });
      new CronTask("report", { image, schedule: "0 3 * * *" });
      new Job("migrate", { image });
    });
    expect(found.map((c) => c.type).sort()).toEqual([
      "kubernetes:apps/v1:Deployment",
      "kubernetes:batch/v1:CronJob",
      "kubernetes:batch/v1:Job",
      "kubernetes:core/v1:ServiceAccount",
    ]);
    expectSafeReplacements(found);
  });

  it("Namespace: the namespace, quota, limits, network policies and ServiceAccount", async () => {
    const found = await children(() => new Namespace("team-a", { serviceAccount: {} }));
    expect(found.map((c) => c.type)).toEqual(
      expect.arrayContaining([
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:ResourceQuota",
        "kubernetes:core/v1:LimitRange",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:core/v1:ServiceAccount",
      ]),
    );
    expectSafeReplacements(found);
  });

  it("AccessRole: Role and RoleBinding", async () => {
    const found = await children(
      () =>
        new AccessRole("reader", {
          namespace: "shop",
          rules: [{ resources: ["configmaps"], verbs: ["get"] }],
          serviceAccounts: ["api"],
        }),
    );
    expect(found.map((c) => c.type).sort()).toEqual([
      "kubernetes:rbac.authorization.k8s.io/v1:Role",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    ]);
    expectSafeReplacements(found);
  });

  it("TypedSecret: the Secret", async () => {
    const found = await children(
      () => new TypedSecret("ledger-db", { namespace: "shop", data: { password: pulumi.secret("s3cret!") } }),
    );
    expect(found.map((c) => [c.type, c.objectName])).toEqual([["kubernetes:core/v1:Secret", "ledger-db"]]);
    expectSafeReplacements(found);
  });

  it("ConfigBundle rolls instead: a content-addressed name, so its replacement is a new object", async () => {
    const found = await children(() => {
      new ConfigBundle("settings", { namespace: "shop", data: { LOG_LEVEL: "info" } });
      new ConfigBundle("keys", { namespace: "shop", data: { TOKEN: pulumi.secret("t0ken!") }, secret: true });
    });
    expect(found.map((c) => c.type).sort()).toEqual([
      "kubernetes:core/v1:ConfigMap",
      "kubernetes:core/v1:Secret",
    ]);
    expectSafeReplacements(found, ["kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"]);
  });

  it("a mount of a TypedSecret leaves the Secret's options alone", async () => {
    const found = await children(() => {
      const secret = new TypedSecret("tls-keys", { data: { key: pulumi.secret("k3y-data") } });
      new Worker("w", { image, mounts: [Mount.secret("/keys", secret.secretName)] });
    });
    expectSafeReplacements(found);
  });
});
