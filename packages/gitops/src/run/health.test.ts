import { describe, expect, it } from "vitest";
import { kubernetesHealth } from "./health.js";

// Object shapes as the Kubernetes provider stores them in a stack's outputs
// (trimmed to the fields the rules read, plus a few they must ignore).
const meta = (name: string, generation = 1) => ({
  name,
  namespace: "apps",
  generation,
  uid: "0b6f6c1e-7d43-4b5e-9b7a-1f0f5f7d1c2a",
  labels: { "app.kubernetes.io/name": name },
});

const deployment = (spec: object, status: object, generation = 2) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: meta("web", generation),
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    strategy: { type: "RollingUpdate" },
    ...spec,
  },
  status: {
    observedGeneration: 2,
    replicas: 2,
    updatedReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
    ],
    ...status,
  },
});

const statefulSet = (spec: object, status: object) => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: meta("db"),
  spec: { replicas: 3, serviceName: "db", updateStrategy: { type: "RollingUpdate" }, ...spec },
  status: {
    observedGeneration: 1,
    replicas: 3,
    readyReplicas: 3,
    currentReplicas: 3,
    updatedReplicas: 3,
    currentRevision: "db-5d8f7c9b6",
    updateRevision: "db-5d8f7c9b6",
    ...status,
  },
});

const job = (status: object, spec: object = {}) => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: meta("migrate"),
  spec: { backoffLimit: 2, completions: 1, ...spec },
  status,
});

const pod = (status: object) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: meta("web-6c9f8d7b5-x2k4p"),
  spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
  status,
});

const cases: [string, Record<string, unknown> | undefined, string, RegExp][] = [
  ["a Deployment with every replica available", deployment({}, {}), "Healthy", /^2\/2 replicas available$/],
  [
    "a Deployment whose new generation the controller has not seen",
    deployment({}, { observedGeneration: 1 }),
    "Progressing",
    /observe the new generation/,
  ],
  [
    "a Deployment half updated",
    deployment({}, { updatedReplicas: 1, availableReplicas: 1 }),
    "Progressing",
    /^1 of 2 replicas updated$/,
  ],
  [
    "a Deployment with an old replica terminating",
    deployment({}, { replicas: 3 }),
    "Progressing",
    /1 old replica\(s\) pending termination/,
  ],
  [
    "a Deployment whose updated replicas are not available yet",
    deployment({}, { availableReplicas: 1 }),
    "Progressing",
    /^1 of 2 updated replicas available$/,
  ],
  [
    "a Deployment past its progress deadline",
    deployment(
      {},
      {
        updatedReplicas: 1,
        availableReplicas: 0,
        conditions: [
          { type: "Available", status: "False", reason: "MinimumReplicasUnavailable" },
          { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" },
        ],
      },
    ),
    "Degraded",
    /exceeded its progress deadline \(0\/2 available\)/,
  ],
  ["a paused Deployment", deployment({ paused: true }, {}), "Progressing", /paused/],
  ["a StatefulSet with every replica ready", statefulSet({}, {}), "Healthy", /^3\/3 replicas ready$/],
  ["a StatefulSet with a replica not ready", statefulSet({}, { readyReplicas: 2 }), "Progressing", /2 of 3/],
  [
    "a StatefulSet rolling to a new revision",
    statefulSet({}, { updateRevision: "db-7f6d5c4b3" }),
    "Progressing",
    /new revision/,
  ],
  [
    "a StatefulSet with OnDelete updates",
    statefulSet({ updateStrategy: { type: "OnDelete" } }, { updateRevision: "db-7f6d5c4b3" }),
    "Healthy",
    /OnDelete/,
  ],
  [
    "a completed Job",
    job({ succeeded: 1, conditions: [{ type: "Complete", status: "True" }] }),
    "Healthy",
    /^1 succeeded$/,
  ],
  [
    "a failed Job",
    job({
      failed: 3,
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ],
    }),
    "Degraded",
    /backoff limit/,
  ],
  ["a running Job", job({ active: 1 }), "Progressing", /^1 active, 0 succeeded, 0 failed$/],
  [
    "a CronJob that last ran well",
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta("report"),
      spec: { schedule: "0 * * * *" },
      status: { lastScheduleTime: "2025-01-01T10:00:00Z", lastSuccessfulTime: "2025-01-01T10:00:42Z" },
    },
    "Healthy",
    /last scheduled 2025-01-01T10:00:00Z/,
  ],
  [
    "a CronJob whose last job did not succeed",
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta("report"),
      spec: { schedule: "0 * * * *" },
      status: { lastScheduleTime: "2025-01-01T11:00:00Z", lastSuccessfulTime: "2025-01-01T10:00:42Z" },
    },
    "Degraded",
    /did not succeed/,
  ],
  [
    "a CronJob never scheduled",
    { apiVersion: "batch/v1", kind: "CronJob", metadata: meta("report"), spec: {}, status: {} },
    "Healthy",
    /not scheduled yet/,
  ],
  [
    "a running, ready Pod",
    pod({ phase: "Running", conditions: [{ type: "Ready", status: "True" }] }),
    "Healthy",
    /running and ready/,
  ],
  ["a pending Pod", pod({ phase: "Pending" }), "Progressing", /pending/],
  [
    "a Pod in CrashLoopBackOff",
    pod({
      phase: "Running",
      containerStatuses: [
        {
          name: "web",
          ready: false,
          restartCount: 5,
          state: {
            waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container" },
          },
        },
      ],
    }),
    "Degraded",
    /^CrashLoopBackOff: back-off/,
  ],
  [
    "a Pod that cannot pull its image",
    pod({
      phase: "Pending",
      containerStatuses: [{ name: "web", state: { waiting: { reason: "ImagePullBackOff" } } }],
    }),
    "Degraded",
    /^ImagePullBackOff$/,
  ],
  [
    "a failed Pod",
    pod({ phase: "Failed", reason: "Evicted", message: "low on memory" }),
    "Degraded",
    /low on memory/,
  ],
  [
    "a ClusterIP Service",
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("web"),
      spec: { type: "ClusterIP" },
      status: { loadBalancer: {} },
    },
    "Healthy",
    /ClusterIP/,
  ],
  [
    "a LoadBalancer Service without an address",
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("web"),
      spec: { type: "LoadBalancer" },
      status: { loadBalancer: {} },
    },
    "Progressing",
    /waiting for a load balancer/,
  ],
  [
    "a LoadBalancer Service with an address",
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("web"),
      spec: { type: "LoadBalancer" },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.7" }] } },
    },
    "Healthy",
    /203\.0\.113\.7/,
  ],
  [
    "an Ingress with an address",
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: meta("web"),
      spec: { rules: [{ host: "web.example.com" }] },
      status: { loadBalancer: { ingress: [{ hostname: "lb.example.com" }] } },
    },
    "Healthy",
    /address lb\.example\.com/,
  ],
  [
    "an Ingress without an address",
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: meta("web"),
      spec: {},
      status: { loadBalancer: {} },
    },
    "Progressing",
    /waiting for an address/,
  ],
  [
    "a bound PersistentVolumeClaim",
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: meta("data"),
      spec: {},
      status: { phase: "Bound" },
    },
    "Healthy",
    /bound/,
  ],
  [
    "a pending PersistentVolumeClaim",
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: meta("data"),
      spec: {},
      status: { phase: "Pending" },
    },
    "Progressing",
    /pending/,
  ],
  [
    "a lost PersistentVolumeClaim",
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: meta("data"),
      spec: {},
      status: { phase: "Lost" },
    },
    "Degraded",
    /lost/,
  ],
  ["an object that is gone", undefined, "Missing", /not in the cluster/],
  ["an object with no outputs", {}, "Missing", /not in the cluster/],
  [
    "a ConfigMap (configuration only: present is healthy)",
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta("cfg"), data: { a: "b" } },
    "Healthy",
    /^exists$/,
  ],
  [
    "a custom resource (no rule)",
    { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: meta("tls"), status: {} },
    "Unknown",
    /no health rule for Certificate/,
  ],
];

describe("kubernetesHealth", () => {
  it.each(cases)("%s is %s", (_name, object, status, reason) => {
    const health = kubernetesHealth(object);
    expect(health.status).toBe(status);
    expect(health.reason).toMatch(reason);
  });

  it("reads a secret-wrapped status as nothing known, never its value", () => {
    const secret = {
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      ciphertext: "v1:abc",
    };
    const health = kubernetesHealth({ ...deployment({}, {}), status: secret });
    expect(health.status).toBe("Progressing");
    expect(JSON.stringify(health)).not.toContain("v1:abc");
  });
});
