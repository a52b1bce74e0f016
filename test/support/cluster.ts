import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makePki, renderKubeconfig } from "./clusterPki.js";
import { ADDRESS_IN_USE, freePorts } from "./ports.js";

/**
 * Where scripts/bootstrap-k8s.sh links etcd, the Kubernetes control plane,
 * kwok with its stages and the Kubernetes provider plugin
 * (`DRIFTLESS_K8S_BIN` overrides it).
 */
export const K8S_BIN_DIR =
  process.env.DRIFTLESS_K8S_BIN ?? fileURLToPath(new URL("../../.toolchain/k8s/bin/", import.meta.url));

const BINARIES = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "kwok-stages.yaml",
  "pulumi-resource-kubernetes",
] as const;

/** The simulated Node that kwok plays the kubelet of. */
export const NODE_NAME = "kwok-node-0";

/**
 * An image reference containing this marker makes kwok keep the Pod Running
 * but never Ready (the `pod-never-ready` stage of tools/k8s/kwok), the way an
 * app failing its readiness probe looks.
 */
export const NEVER_READY_MARKER = "never-ready";

/** The controllers a lifelike cluster needs (no cloud, no volumes, no certificates, no HPA metrics). */
const CONTROLLERS = [
  "deployment-controller",
  "replicaset-controller",
  "job-controller",
  "cronjob-controller",
  "ttl-after-finished-controller",
  "disruption-controller",
  "endpoints-controller",
  "endpointslice-controller",
  "serviceaccount-controller",
  "resourcequota-controller",
  "namespace-controller",
  "garbage-collector-controller",
  "pod-garbage-collector-controller",
  // Without it the Node's not-ready taint is never lifted and no Pod is scheduled.
  "node-lifecycle-controller",
];

/** Why the local control plane cannot start here, or `undefined` when it can. */
export function clusterUnavailable(binDir = K8S_BIN_DIR): string | undefined {
  const missing = BINARIES.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0)
    return `${missing.join(", ")} not in ${binDir}: build them with ./scripts/run.sh scripts/bootstrap-k8s.sh`;
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return "the openssl CLI is needed to make the cluster's certificates (apt-get install openssl)";
  }
  return undefined;
}

/**
 * A lifelike cluster without containers, on loopback ports with certificates
 * made for this run: etcd, kube-apiserver, kube-controller-manager (the
 * controllers in `CONTROLLERS`), kube-scheduler, and kwok playing the kubelet
 * of one simulated Node. Deployments roll out, Pods are scheduled and become
 * Running and Ready (instantly: no image is pulled, no container runs, no
 * probe is called), Services get EndpointSlices, CronJobs create Jobs whose
 * Pods succeed. No Pod network, DNS, kube-proxy, Ingress controller or HPA
 * metrics.
 */
export interface TestCluster {
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** kubeconfig contents for a cluster admin (client certificate in system:masters). */
  readonly kubeconfig: string;
  readonly kubeconfigPath: string;
  /** PATH with the provider plugin first, for engine processes. */
  readonly path: string;
  /**
   * GET/PUT/… against the API server as the admin, returning parsed JSON. A
   * body is sent as JSON with `contentType` (default: merge patch for PATCH,
   * `application/json` otherwise; `application/apply-patch+yaml` for server-side apply).
   */
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: T }>;
  /**
   * Stops kube-apiserver alone (etcd, the controllers and kwok keep running),
   * leaves it down for `downMs`, starts it again on the same port and waits
   * until it is ready: clients' watches break and must resume.
   */
  restartApiServer(downMs?: number): Promise<void>;
  /** Stops every process (SIGTERM, then SIGKILL) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** How many times a cluster is started on new ports when one of its ports was taken meanwhile. */
const PORT_ATTEMPTS = 3;

/** Starts a {@link TestCluster}, on new ports again when one was taken before its server bound it. */
export async function startCluster(
  options: { binDir?: string; readyTimeoutMs?: number } = {},
): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (error) {
      // The logs are in the message: etcd or kube-apiserver found its port taken (see ports.ts).
      if (attempt >= PORT_ATTEMPTS || !ADDRESS_IN_USE.test((error as Error).message)) throw error;
    }
  }
}

async function startClusterOnce(options: { binDir?: string; readyTimeoutMs?: number }): Promise<TestCluster> {
  const binDir = options.binDir ?? K8S_BIN_DIR;
  const unavailable = clusterUnavailable(binDir);
  if (unavailable) throw new Error(unavailable);
  const dir = mkdtempSync(join(tmpdir(), "driftless-k8s-"));
  const processes: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // In reverse start order: kwok and the controllers first, etcd last.
    for (const child of processes.reverse()) await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = makePki(join(dir, "pki"));
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    processes.push(
      launch(join(binDir, "etcd"), join(dir, "etcd.log"), [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Throwaway data: durability costs seconds on a busy disk for nothing.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ]),
    );
    const launchApiServer = () =>
      launch(join(binDir, "kube-apiserver"), join(dir, "kube-apiserver.log"), [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.saPublic}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // Two cores shared with the engine: no request queuing machinery, no profiling.
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--v=0",
      ]);
    processes.push(launchApiServer());
    const apiServerIndex = processes.length - 1;

    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = renderKubeconfig(server, pki);
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    const tls = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    };
    const api: TestCluster["api"] = (method, path, body, contentType) =>
      call(server, tls, method, path, body, contentType);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    await waitReady(api, processes, dir, deadline);
    const logFlags = ["--v=0", "--logging-format=text"];
    processes.push(
      launch(join(binDir, "kube-controller-manager"), join(dir, "kube-controller-manager.log"), [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        `--root-ca-file=${pki.caCert}`,
        `--service-account-private-key-file=${pki.saKey}`,
        "--use-service-account-credentials=false",
        `--controllers=${CONTROLLERS.join(",")}`,
        ...logFlags,
      ]),
    );
    processes.push(
      launch(join(binDir, "kube-scheduler"), join(dir, "kube-scheduler.log"), [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        ...logFlags,
      ]),
    );
    processes.push(
      launch(join(binDir, "kwok"), join(dir, "kwok.log"), [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${join(binDir, "kwok-stages.yaml")}`,
        "--manage-all-nodes=false",
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        // Addresses written into Node and Pod status only: nothing listens or connects there.
        "--node-ip=10.0.0.1",
        "--cidr=10.244.0.0/24",
        "--node-lease-duration-seconds=40",
      ]),
    );
    await addNode(api);
    await waitNodeReady(api, processes, dir, deadline);
    return {
      dir,
      server,
      kubeconfig,
      kubeconfigPath,
      path: `${binDir}${delimiter}${process.env.PATH ?? ""}`,
      api,
      async restartApiServer(downMs = 0) {
        await terminate(processes[apiServerIndex] as ChildProcess);
        if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
        processes[apiServerIndex] = launchApiServer();
        await waitReady(api, processes, dir, Date.now() + 60_000);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function launch(binary: string, logFile: string, args: string[]): ChildProcess {
  const log = openSync(logFile, "a");
  const child = spawn(binary, args, { stdio: ["ignore", log, log] });
  // A test runner that dies without cleaning up must not leave them behind.
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.removeListener("exit", kill));
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

/** A simulated Node: kwok keeps it Ready and plays the kubelet for the Pods scheduled on it. */
async function addNode(api: TestCluster["api"]): Promise<void> {
  const capacity = { cpu: "32", memory: "256Gi", pods: "110" };
  const { status, body } = await api("POST", "/api/v1/nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: NODE_NAME,
      annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": NODE_NAME,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
      },
    },
    status: { allocatable: capacity, capacity },
  });
  if (status !== 201) throw new Error(`creating Node ${NODE_NAME}: ${status} ${JSON.stringify(body)}`);
}

interface NodeView {
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Until the Node is Ready and no taint keeps Pods off it (the node-lifecycle controller lifts them). */
async function waitNodeReady(
  api: TestCluster["api"],
  processes: readonly ChildProcess[],
  dir: string,
  deadline: number,
): Promise<void> {
  let last = "";
  while (Date.now() < deadline) {
    assertAlive(processes, dir);
    const { status, body } = await api<NodeView>("GET", `/api/v1/nodes/${NODE_NAME}`);
    const ready = body.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
    const taints = body.spec?.taints ?? [];
    if (status === 200 && ready && taints.length === 0) return;
    last = `${status} ready=${ready} taints=${taints.map((t) => t.key).join(",")}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Node ${NODE_NAME} was not Ready and untainted in time (last: ${last})\n${tails(dir)}`);
}

function assertAlive(processes: readonly ChildProcess[], dir: string): void {
  const dead = processes.find((p) => p.exitCode !== null || p.signalCode !== null);
  if (dead) throw new Error(`${dead.spawnfile} exited during startup:\n${tails(dir)}`);
}

async function waitReady(
  api: TestCluster["api"],
  processes: readonly ChildProcess[],
  dir: string,
  deadline: number,
): Promise<void> {
  let last = "";
  while (Date.now() < deadline) {
    assertAlive(processes, dir);
    try {
      const { status, body } = await api<string>("GET", "/readyz");
      if (status === 200) return;
      last = `${status} ${String(body).slice(0, 500)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`kube-apiserver was not ready in time (last: ${last})\n${tails(dir)}`);
}

function tails(dir: string): string {
  return ["etcd.log", "kube-apiserver.log", "kube-controller-manager.log", "kube-scheduler.log", "kwok.log"]
    .map((f) => {
      const path = join(dir, f);
      const text = existsSync(path) ? readFileSync(path, "utf8") : "";
      return `--- ${f}\n${text.split("\n").slice(-25).join("\n")}`;
    })
    .join("\n");
}

function call<T>(
  server: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, server),
      {
        method,
        ...tls,
        headers: {
          accept: "application/json",
          ...(payload === undefined
            ? {}
            : {
                "content-type":
                  contentType ?? (method === "PATCH" ? "application/merge-patch+json" : "application/json"),
              }),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}
