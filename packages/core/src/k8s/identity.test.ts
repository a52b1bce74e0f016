import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, rejected, SECRET_SIG, SECRET_SIG_KEY, settle } from "../../test/harness.js";
import { ServiceRole } from "../aws/serviceRole.js";
import { Trust } from "../aws/trust.js";
import { AccessRole } from "./accessRole.js";
import { CronTask } from "./cronTask.js";
import { Job } from "./job.js";
import { Namespace } from "./namespace.js";
import { TypedSecret } from "./typedSecret.js";
import { WebService } from "./webService.js";
import { Worker } from "./worker.js";

const image = "acme/api:1.2.3";

describe("workload identity", () => {
  it("creates a ServiceAccount per workload, linked to an AWS role through the IRSA annotation", async () => {
    const { one, result } = await declare(() => {
      const role = new ServiceRole("api", {
        trust: Trust.eksServiceAccount({
          providerArn: "arn:oidc",
          issuer: "https://oidc.eks",
          namespace: "shop",
          serviceAccount: "api",
        }),
      });
      return new WebService("api", {
        image,
        namespace: "shop",
        serviceAccount: { annotations: role.serviceAccountAnnotations },
      });
    });
    const account = one("kubernetes:core/v1:ServiceAccount").inputs;
    expect(account.metadata).toMatchObject({
      name: "api",
      namespace: "shop",
      annotations: { "eks.amazonaws.com/role-arn": "arn:aws:mock:::api" },
    });
    expect(account.automountServiceAccountToken).toBe(false);
    const pod = one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec;
    expect(pod.serviceAccountName).toBe("api");
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(result.serviceAccount).toBeDefined();
  });

  it("gives every workload kind its own account on request", async () => {
    const { all } = await declare(() => {
      new Worker("w", { image, serviceAccount: true });
      new CronTask("c", { image, schedule: "@daily", serviceAccount: true });
      new Job("j", { image, serviceAccount: true });
    });
    expect(all("kubernetes:core/v1:ServiceAccount").map((a) => a.name)).toEqual(["w", "c", "j"]);
  });

  it("refuses an own account together with `serviceAccountName`", async () => {
    await expect(
      declare(() => new Worker("w", { image, serviceAccount: true, serviceAccountName: "x" })),
    ).rejects.toThrow("`serviceAccount` must not be set together with `serviceAccountName`");
  });

  it("trusts EKS Pod Identity with sts:TagSession", async () => {
    const { one } = await declare(() => new ServiceRole("api", { trust: Trust.eksPodIdentity() }));
    expect(JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: ["pods.eks.amazonaws.com"] },
        Action: ["sts:AssumeRole", "sts:TagSession"],
      },
    ]);
  });

  it("grants a Role to service accounts with a RoleBinding", async () => {
    const { one } = await declare(() => {
      const ns = new Namespace("shop", { quota: false });
      const sa = new k8s.core.v1.ServiceAccount("reader", {
        metadata: { name: "reader", namespace: "shop" },
      });
      return new AccessRole("read-config", {
        namespace: ns,
        rules: [{ resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
        serviceAccounts: [sa, "other"],
      });
    });
    expect(one("kubernetes:rbac.authorization.k8s.io/v1:Role").inputs.rules).toEqual([
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
    ]);
    const binding = one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").inputs;
    expect(binding.metadata.namespace).toBe("shop");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "read-config",
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "reader", namespace: "shop" },
      { kind: "ServiceAccount", name: "other", namespace: "shop" },
    ]);
  });

  it("refuses wildcard roles and accounts by name without a namespace", async () => {
    const error = await rejected<Error & { problems: { field: string }[] }>(
      declare(
        () =>
          new AccessRole("admin", {
            rules: [
              { resources: ["*"], verbs: ["*"] },
              { resources: [], verbs: [] },
            ],
            serviceAccounts: ["x"],
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "rules[0]",
      "rules[1].resources",
      "rules[1].verbs",
      "serviceAccounts[0]",
    ]);
  });
});

describe("more than one container, private images and typed secrets", () => {
  it("adds init containers and native sidecars with the secure defaults and the workload's mounts", async () => {
    const { one } = await declare(() => {
      const registry = new TypedSecret("registry", {
        dockerConfig: { server: "ghcr.io", username: "bot", password: pulumi.secret("token") },
      });
      return new WebService("api", {
        image,
        imagePullSecrets: [registry.secretName],
        initContainers: [
          {
            name: "wait-db",
            image: "busybox:1.36",
            command: ["sh", "-c", "until nc -z db 5432; do sleep 1; done"],
          },
        ],
        sidecars: [
          { name: "proxy", image: "envoyproxy/envoy:v1.31.0", resources: { limits: { memory: "128Mi" } } },
        ],
      });
    });
    const pod = one("kubernetes:apps/v1:Deployment").inputs.spec.template.spec;
    expect(pod.imagePullSecrets).toEqual([{ name: "registry" }]);
    expect(
      pod.initContainers.map((c: { name: string; restartPolicy?: string }) => [c.name, c.restartPolicy]),
    ).toEqual([
      ["proxy", "Always"],
      ["wait-db", undefined],
    ]);
    expect(pod.initContainers[1].securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(pod.initContainers[0].resources.limits).toEqual({ cpu: "500m", memory: "128Mi" });
    const secret = one("kubernetes:core/v1:Secret").inputs;
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(secret.stringData[SECRET_SIG_KEY]).toBe(SECRET_SIG);
    const config = JSON.parse(secret.stringData.value[".dockerconfigjson"]);
    expect(config.auths["ghcr.io"]).toEqual({
      username: "bot",
      password: "token",
      auth: Buffer.from("bot:token").toString("base64"),
    });
  });

  it("rejects duplicate or bad extra containers", async () => {
    const error = await rejected<Error & { problems: { field: string }[] }>(
      declare(
        () =>
          new Worker("w", {
            image,
            initContainers: [{ name: "w", image: "" }],
            sidecars: [{ name: "Bad", image: "a:1", env: { "1X": "y" } }],
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "initContainers[0].name",
      "initContainers[0].image",
      "sidecars[0].name",
      "sidecars[0].env.1X",
    ]);
  });

  it("builds TLS and Opaque secrets and insists on one kind", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----";
    const { all } = await declare(() => {
      new TypedSecret("api-tls", { namespace: "shop", tls: { certificate: pem, privateKey: "k" } });
      new TypedSecret("app", { data: { TOKEN: "t" } });
    });
    expect(
      all("kubernetes:core/v1:Secret")
        .map((s) => s.inputs.type)
        .sort(),
    ).toEqual(["Opaque", "kubernetes.io/tls"]);
    await expect(
      declare(() => new TypedSecret("x", { data: {}, tls: { certificate: "c", privateKey: "k" } })),
    ).rejects.toThrow("exactly one of `tls`, `dockerConfig` and `data` must be given");
    await expect(
      declare(() => new TypedSecret("x", { tls: { certificate: "nope", privateKey: "k" } })),
    ).rejects.toThrow("`tls.certificate` must be a PEM certificate");
    void settle;
  });
});
