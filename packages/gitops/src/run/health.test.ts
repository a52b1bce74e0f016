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
  ...realShapes(),
];

/**
 * Objects as the upstream provider stored (or a refresh read) them on the
 * lifelike cluster of test/resourcesKubernetes.test.ts, fields the rules do
 * not read trimmed.
 */
function realShapes(): [string, Record<string, unknown>, string, RegExp][] {
  const rollout = (status: object) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta("api", 2),
    spec: {
      replicas: 2,
      progressDeadlineSeconds: 8,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    },
    status: {
      availableReplicas: 2,
      observedGeneration: 2,
      readyReplicas: 2,
      replicas: 3,
      unavailableReplicas: 1,
      updatedReplicas: 1,
      ...status,
    },
  });
  const available = {
    type: "Available",
    status: "True",
    reason: "MinimumReplicasAvailable",
    message: "Deployment has minimum availability.",
  };
  const pdb = (status: object) => ({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta("api"),
    spec: { maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "api" } } },
    status,
  });
  return [
    [
      "a rollout of Pods that never become Ready, when the provider gave up waiting",
      rollout({
        conditions: [
          available,
          {
            type: "Progressing",
            status: "True",
            reason: "ReplicaSetUpdated",
            message: 'ReplicaSet "api-5ddf877f4b" is progressing.',
          },
        ],
      }),
      "Progressing",
      /^1 of 2 replicas updated$/,
    ],
    [
      "the same rollout once the controller gave up on it",
      rollout({
        conditions: [
          available,
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: 'ReplicaSet "api-5ddf877f4b" has timed out progressing.',
          },
        ],
      }),
      "Degraded",
      /^rollout exceeded its progress deadline \(2\/2 available\)$/,
    ],
    [
      "a PodDisruptionBudget as created, before the disruption controller counted its Pods",
      pdb({ currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 }),
      "Healthy",
      /^no Pods counted yet$/,
    ],
    [
      "a PodDisruptionBudget with enough healthy Pods",
      pdb({
        observedGeneration: 1,
        currentHealthy: 2,
        desiredHealthy: 1,
        disruptionsAllowed: 1,
        expectedPods: 2,
      }),
      "Healthy",
      /^2\/1 required Pods healthy, 1 disruption\(s\) allowed$/,
    ],
    [
      "a PodDisruptionBudget short of healthy Pods",
      pdb({
        observedGeneration: 1,
        currentHealthy: 0,
        desiredHealthy: 1,
        disruptionsAllowed: 0,
        expectedPods: 1,
      }),
      "Degraded",
      /^0 of 1 required Pods healthy$/,
    ],
    [
      "a ClusterIP Service (status holds an empty load balancer)",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta("api"),
        spec: { type: "ClusterIP", clusterIP: "10.96.12.7", ports: [{ name: "http", port: 80 }] },
        status: { loadBalancer: {} },
      },
      "Healthy",
      /^ClusterIP$/,
    ],
    [
      "an active Namespace",
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "inventory" },
        spec: { finalizers: ["kubernetes"] },
        status: { phase: "Active" },
      },
      "Healthy",
      /^Active$/,
    ],
    [
      "a LimitRange",
      { apiVersion: "v1", kind: "LimitRange", metadata: meta("inventory"), spec: { limits: [] } },
      "Healthy",
      /^exists$/,
    ],
    [
      "a NetworkPolicy",
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta("inventory-deny-all"),
        spec: { podSelector: {} },
      },
      "Healthy",
      /^exists$/,
    ],
    [
      "a HorizontalPodAutoscaler without a metrics server",
      {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: meta("api"),
        spec: { minReplicas: 2, maxReplicas: 6 },
        status: {
          currentReplicas: 2,
          desiredReplicas: 0,
          conditions: [
            { type: "AbleToScale", status: "True", reason: "SucceededGetScale" },
            {
              type: "ScalingActive",
              status: "False",
              reason: "FailedGetResourceMetric",
              message: "the HPA was unable to compute the replica count: failed to get cpu utilization",
            },
          ],
        },
      },
      "Degraded",
      /unable to compute the replica count/,
    ],
    [
      "a HorizontalPodAutoscaler that scales",
      {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: meta("api"),
        spec: { minReplicas: 2, maxReplicas: 6 },
        status: {
          currentReplicas: 3,
          desiredReplicas: 3,
          conditions: [
            { type: "AbleToScale", status: "True", reason: "ReadyForNewScale" },
            { type: "ScalingActive", status: "True", reason: "ValidMetricFound" },
          ],
        },
      },
      "Healthy",
      /^3 replicas \(desired 3\)$/,
    ],
  ];
}

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
