import { describe, expect, it } from "vitest";
import { declare, type Registered } from "../../test/harness.js";
import { CronTask } from "./cronTask.js";
import { EnvFrom } from "./envFrom.js";
import { EnvValue } from "./envValue.js";
import { Job } from "./job.js";
import { Mount } from "./mount.js";
import { Namespace } from "./namespace.js";
import { StatefulService } from "./statefulService.js";
import { WebService } from "./webService.js";
import { Worker } from "./worker.js";
import type { WorkloadArgs } from "./workload.js";

// Every field of WorkloadArgs, relaxations included, so a component that
// builds any part of its pod on its own shows up as a difference.
const shared = (): WorkloadArgs => ({
  image: "acme/app:1.0.0",
  command: ["serve"],
  args: ["--verbose"],
  env: { MODE: "prod", TOKEN: EnvValue.secret("tokens", "api"), POD: EnvValue.field("metadata.name") },
  envFrom: [EnvFrom.configMap("settings", "APP_"), EnvFrom.secret("credentials")],
  mounts: [Mount.configMap("/etc/app", "settings"), Mount.emptyDir("/tmp")],
  resources: { requests: { cpu: "200m" }, limits: { memory: "1Gi" } },
  securityContext: {
    readOnlyRootFilesystem: false,
    runAsUser: 1000,
    runAsGroup: 1000,
    fsGroup: 2000,
    addCapabilities: ["NET_BIND_SERVICE"],
  },
  namespace: new Namespace("shop"),
  serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/app" } },
  labels: { team: "checkout" },
  annotations: { owner: "checkout" },
  podAnnotations: { "prometheus.io/scrape": "true" },
  nodeSelector: { disk: "ssd" },
  tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
  affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
  version: "1.0.0",
  partOf: "shop",
  skipAwait: true,
  initContainers: [{ name: "migrate", image: "acme/migrate:1.0.0", env: { STEP: "all" } }],
  sidecars: [{ name: "proxy", image: "acme/proxy:1.0.0", resources: { limits: { cpu: "1" } } }],
  imagePullSecrets: ["registry"],
  terminationGracePeriodSeconds: 45,
  preStop: ["sleep", "5"],
});

/** The pod template of the one workload object among `resources`. */
function template(resources: readonly Registered[]) {
  const owner = resources.find((r) =>
    ["batch/v1:Job", "batch/v1:CronJob", "apps/v1:Deployment", "apps/v1:StatefulSet"].some(
      (kind) => r.type === `kubernetes:${kind}`,
    ),
  );
  if (owner === undefined) throw new Error("no workload object was registered");
  const spec = owner.type.endsWith(":CronJob") ? owner.inputs.spec.jobTemplate.spec : owner.inputs.spec;
  return spec.template;
}

describe("workload pod template", () => {
  it("is the same for every workload kind given the same WorkloadArgs", async () => {
    const kinds: Record<string, () => unknown> = {
      job: () => new Job("app", shared()),
      cron: () => new CronTask("app", { ...shared(), schedule: "@daily" }),
      worker: () => new Worker("app", shared()),
      web: () => new WebService("app", { ...shared(), replicas: 1 }),
      stateful: () => new StatefulService("app", shared()),
    };
    const templates: Record<string, Registered["inputs"]> = {};
    for (const [kind, program] of Object.entries(kinds)) {
      const { resources } = await declare(program);
      const { metadata, spec } = template(resources);
      // What each kind adds on purpose: its component label, a restart policy
      // (Jobs), and the WebService's port and probes.
      const { "app.kubernetes.io/component": component, ...labels } = metadata.labels;
      expect(component).toBe(kind === "stateful" ? "stateful" : kind);
      const { restartPolicy, containers, ...pod } = spec;
      expect(restartPolicy).toBe(kind === "job" || kind === "cron" ? "Never" : undefined);
      const { ports, readinessProbe, livenessProbe, ...container } = containers[0];
      const added = [ports, readinessProbe, livenessProbe].map((field) => field !== undefined);
      expect(added).toEqual([kind === "web", kind === "web", kind === "web"]);
      templates[kind] = { metadata: { ...metadata, labels }, spec: { ...pod, containers: [container] } };
    }
    const { job, ...others } = templates;
    for (const other of Object.values(others)) expect(other).toEqual(job);
    // And that shared template holds every field asked for.
    expect(job?.metadata).toEqual({
      labels: {
        team: "checkout",
        "app.kubernetes.io/name": "app",
        "app.kubernetes.io/instance": "app",
        "app.kubernetes.io/managed-by": "driftless",
        "app.kubernetes.io/version": "1.0.0",
        "app.kubernetes.io/part-of": "shop",
      },
      annotations: { "prometheus.io/scrape": "true" },
    });
    const pod = job?.spec;
    expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(["proxy", "migrate"]);
    expect(pod.containers[0]).toMatchObject({
      name: "app",
      image: "acme/app:1.0.0",
      command: ["serve"],
      args: ["--verbose"],
      lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } },
      securityContext: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: false,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
        runAsUser: 1000,
        runAsGroup: 1000,
      },
    });
    expect(pod.containers[0].env).toHaveLength(3);
    expect(pod.containers[0].envFrom).toHaveLength(2);
    expect(pod.containers[0].volumeMounts).toHaveLength(2);
    expect(pod).toMatchObject({
      serviceAccountName: "app",
      automountServiceAccountToken: true,
      terminationGracePeriodSeconds: 45,
      imagePullSecrets: [{ name: "registry" }],
      nodeSelector: { disk: "ssd" },
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" }, fsGroup: 2000 },
    });
  });
});
