// Health rules on the object shapes the upstream Kubernetes provider stored
// (or a refresh read) on the lifelike cluster of test/resourcesKubernetes.test.ts,
// fields the rules do not read trimmed.
import { describe, expect, it } from "vitest";
import { kubernetesHealth } from "./health.js";

const meta = (name: string, generation = 1) => ({ name, namespace: "inventory", generation });

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

describe("kubernetesHealth on shapes read from a cluster", () => {
  it.each(realShapes())("%s is %s", (_name, object, status, reason) => {
    const health = kubernetesHealth(object);
    expect(health.status).toBe(status);
    expect(health.reason).toMatch(reason);
  });
});
