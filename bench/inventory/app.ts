// An application of the benchmark's stack: core's `ConfigBundle` (ConfigMap,
// Secret) and `WebService` (ServiceAccount, Deployment, Service,
// PodDisruptionBudget; every third with a HorizontalPodAutoscaler, every fourth
// with an Ingress). Most Deployments are rolled out, some are mid-rollout and
// a few are stuck past their progress deadline.
import { hex, PROJECT, type StateBuilder, secret, T0 } from "./state.js";

export function application(state: StateBuilder, a: number, ns: string, commit: string): void {
  const name = `app-${a}`;
  const image = `registry.example.com/${PROJECT}/${name}:${hex(`${name}${commit}`, 12)}`;
  const bundle = state.component("driftless:k8s:ConfigBundle", `${name}-config`);
  state.k8s(
    bundle,
    "kubernetes:core/v1:ConfigMap",
    `${name}-config`,
    ns,
    {},
    {
      commit,
      data: {
        data: {
          LOG_LEVEL: "info",
          FEATURE_FLAGS: "search,checkout-v2",
          UPSTREAM_URL: `http://${name}-upstream.${ns}.svc.cluster.local:8080`,
          "app.yaml": `server:\n  port: 8080\n  name: ${name}\n`,
        },
      },
    },
  );
  state.k8s(
    bundle,
    "kubernetes:core/v1:Secret",
    `${name}-secret`,
    ns,
    {},
    {
      commit,
      data: { type: "Opaque", data: secret(`${name}-data`), stringData: secret(`${name}-string`) },
    },
  );
  const service = state.component("driftless:k8s:WebService", name);
  const selector = { "app.kubernetes.io/instance": name, "app.kubernetes.io/name": name };
  state.k8s(
    service,
    "kubernetes:core/v1:ServiceAccount",
    name,
    ns,
    {},
    { commit, data: { automountServiceAccountToken: false } },
  );
  const desired = 2 + (a % 3);
  // Most are rolled out; some are mid-rollout, a few stuck past their deadline.
  const stuck = a % 97 === 5;
  const rolling = !stuck && a % 23 === 7;
  const ready = stuck ? 0 : rolling ? desired - 1 : desired;
  state.k8s(
    service,
    "kubernetes:apps/v1:Deployment",
    name,
    ns,
    {
      progressDeadlineSeconds: 600,
      replicas: desired,
      revisionHistoryLimit: 10,
      selector: { matchLabels: selector },
      strategy: { rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 }, type: "RollingUpdate" },
      template: {
        metadata: {
          annotations: { "driftless.dev/config-hash": hex(`${name}-cfg`, 16) },
          labels: selector,
        },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              env: [
                { name: "PORT", value: "8080" },
                {
                  name: "POD_NAME",
                  valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
                },
              ],
              envFrom: [
                { configMapRef: { name: `${name}-config` } },
                { secretRef: { name: `${name}-secret` } },
              ],
              image,
              imagePullPolicy: "IfNotPresent",
              livenessProbe: {
                failureThreshold: 3,
                httpGet: { path: "/healthz", port: 8080, scheme: "HTTP" },
                periodSeconds: 10,
                successThreshold: 1,
                timeoutSeconds: 1,
              },
              name,
              ports: [{ containerPort: 8080, name: "http", protocol: "TCP" }],
              readinessProbe: {
                failureThreshold: 3,
                httpGet: { path: "/ready", port: 8080, scheme: "HTTP" },
                periodSeconds: 5,
                successThreshold: 1,
                timeoutSeconds: 1,
              },
              resources: {
                limits: { cpu: "500m", memory: "512Mi" },
                requests: { cpu: "100m", memory: "256Mi" },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: 10001,
              },
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
              volumeMounts: [{ mountPath: "/tmp", name: "tmp" }],
            },
          ],
          dnsPolicy: "ClusterFirst",
          restartPolicy: "Always",
          schedulerName: "default-scheduler",
          securityContext: { fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
          serviceAccountName: name,
          terminationGracePeriodSeconds: 30,
          topologySpreadConstraints: [
            {
              labelSelector: { matchLabels: selector },
              maxSkew: 1,
              topologyKey: "topology.kubernetes.io/zone",
              whenUnsatisfiable: "ScheduleAnyway",
            },
          ],
          volumes: [{ emptyDir: {}, name: "tmp" }],
        },
      },
    },
    {
      commit,
      generation: true,
      status: {
        availableReplicas: ready,
        conditions: [
          {
            lastTransitionTime: T0,
            lastUpdateTime: T0,
            message:
              ready === desired
                ? "Deployment has minimum availability."
                : "Deployment does not have minimum availability.",
            reason: ready === desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
            status: ready === desired ? "True" : "False",
            type: "Available",
          },
          stuck
            ? {
                lastTransitionTime: T0,
                lastUpdateTime: T0,
                message: `ReplicaSet "${name}-6d9f7c8b5" has timed out progressing.`,
                reason: "ProgressDeadlineExceeded",
                status: "False",
                type: "Progressing",
              }
            : {
                lastTransitionTime: T0,
                lastUpdateTime: T0,
                message: `ReplicaSet "${name}-6d9f7c8b5" has successfully progressed.`,
                reason: rolling ? "ReplicaSetUpdated" : "NewReplicaSetAvailable",
                status: "True",
                type: "Progressing",
              },
        ],
        observedGeneration: 1,
        readyReplicas: ready,
        replicas: desired,
        updatedReplicas: rolling ? desired - 1 : desired,
      },
    },
  );
  state.k8s(
    service,
    "kubernetes:core/v1:Service",
    name,
    ns,
    {
      clusterIP: `10.96.${a % 250}.${(a * 7) % 250}`,
      clusterIPs: [`10.96.${a % 250}.${(a * 7) % 250}`],
      internalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: "http" }],
      selector,
      sessionAffinity: "None",
      type: "ClusterIP",
    },
    { commit, status: { loadBalancer: {} } },
  );
  state.k8s(
    service,
    "kubernetes:policy/v1:PodDisruptionBudget",
    name,
    ns,
    { maxUnavailable: 1, selector: { matchLabels: selector } },
    {
      commit,
      generation: true,
      status: {
        conditions: [
          {
            lastTransitionTime: T0,
            message: "",
            observedGeneration: 1,
            reason: "SufficientPods",
            status: "True",
            type: "DisruptionAllowed",
          },
        ],
        currentHealthy: ready,
        desiredHealthy: desired - 1,
        disruptionsAllowed: 1,
        expectedPods: desired,
        observedGeneration: 1,
      },
    },
  );
  if (a % 3 === 0)
    state.k8s(
      service,
      "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
      name,
      ns,
      {
        maxReplicas: 10,
        metrics: [
          {
            resource: { name: "cpu", target: { averageUtilization: 70, type: "Utilization" } },
            type: "Resource",
          },
        ],
        minReplicas: desired,
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
      },
      {
        commit,
        status: {
          currentMetrics: [
            {
              resource: { current: { averageUtilization: 12, averageValue: "12m" }, name: "cpu" },
              type: "Resource",
            },
          ],
          currentReplicas: desired,
          desiredReplicas: desired,
        },
      },
    );
  if (a % 4 === 0)
    state.k8s(
      service,
      "kubernetes:networking.k8s.io/v1:Ingress",
      name,
      ns,
      {
        ingressClassName: "nginx",
        rules: [
          {
            host: `${name}.example.com`,
            http: {
              paths: [
                { backend: { service: { name, port: { name: "http" } } }, path: "/", pathType: "Prefix" },
              ],
            },
          },
        ],
        tls: [{ hosts: [`${name}.example.com`], secretName: `${name}-tls` }],
      },
      { commit, generation: true, status: { loadBalancer: { ingress: [{ ip: `203.0.113.${a % 250}` }] } } },
    );
}
