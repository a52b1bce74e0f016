import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where scripts/bootstrap-k8s.sh links etcd, kube-apiserver and the
 * Kubernetes provider plugin (`DRIFTLESS_K8S_BIN` overrides it).
 */
export const K8S_BIN_DIR =
  process.env.DRIFTLESS_K8S_BIN ?? fileURLToPath(new URL("../../.toolchain/k8s/bin/", import.meta.url));

const BINARIES = ["etcd", "kube-apiserver", "pulumi-resource-kubernetes"] as const;

/** Why the local control plane cannot start here, or `undefined` when it can. */
export function clusterUnavailable(binDir = K8S_BIN_DIR): string | undefined {
  const missing = BINARIES.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0) return `${missing.join(", ")} not in ${binDir}: run scripts/bootstrap-k8s.sh`;
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return "the openssl CLI is needed to make the cluster's certificates (apt-get install openssl)";
  }
  return undefined;
}

/**
 * A control plane without nodes — etcd and kube-apiserver on loopback ports,
 * certificates made for this run — so tests can assert on API objects.
 * Nothing schedules or runs Pods.
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
  /** GET/PUT/… against the API server as the admin, returning parsed JSON. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Stops both processes (SIGTERM, then SIGKILL) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

export async function startCluster(
  options: { binDir?: string; readyTimeoutMs?: number } = {},
): Promise<TestCluster> {
  const binDir = options.binDir ?? K8S_BIN_DIR;
  const unavailable = clusterUnavailable(binDir);
  if (unavailable) throw new Error(unavailable);
  const dir = mkdtempSync(join(tmpdir(), "driftless-k8s-"));
  const processes: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The API server first, so it does not log a storm of etcd errors.
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
    processes.push(
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
      ]),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = renderKubeconfig(server, pki);
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    const tls = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    };
    const api: TestCluster["api"] = (method, path, body) => call(server, tls, method, path, body);
    await waitReady(api, processes, dir, options.readyTimeoutMs ?? 120_000);
    return {
      dir,
      server,
      kubeconfig,
      kubeconfigPath,
      path: `${binDir}${delimiter}${process.env.PATH ?? ""}`,
      api,
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

async function waitReady(
  api: TestCluster["api"],
  processes: readonly ChildProcess[],
  dir: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited during startup:\n${tails(dir)}`);
    try {
      const { status, body } = await api<string>("GET", "/readyz");
      if (status === 200) return;
      last = `${status} ${String(body).slice(0, 500)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`kube-apiserver was not ready within ${timeoutMs} ms (last: ${last})\n${tails(dir)}`);
}

function tails(dir: string): string {
  return ["etcd.log", "kube-apiserver.log"]
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
                "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json",
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

async function freePorts(count: number): Promise<number[]> {
  // Held open together so the kernel hands out distinct ports.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPublic: string;
}

/** A CA, the API server's serving certificate, an admin client certificate and the service-account signing key. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=driftless-test-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  const leaf = (name: string, subject: string, extensions: string[]) =>
    openssl(
      "req",
      "-x509",
      ...ec,
      "-CA",
      p("ca.crt"),
      "-CAkey",
      p("ca.key"),
      "-keyout",
      p(`${name}.key`),
      "-out",
      p(`${name}.crt`),
      "-days",
      "2",
      "-subj",
      subject,
      "-addext",
      "basicConstraints=CA:FALSE",
      ...extensions.flatMap((e) => ["-addext", e]),
    );
  leaf("server", "/CN=kube-apiserver", [
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
    "extendedKeyUsage=serverAuth",
  ]);
  leaf("admin", "/O=system:masters/CN=driftless-test-admin", ["extendedKeyUsage=clientAuth"]);
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", p("sa.key"));
  openssl("pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub"));
  return {
    caCert: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPublic: p("sa.pub"),
  };
}

function renderKubeconfig(server: string, pki: Pki): string {
  const b64 = (file: string) => readFileSync(file).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: driftless-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate-data: ${b64(pki.adminCert)}`,
    `    client-key-data: ${b64(pki.adminKey)}`,
    "contexts:",
    "- name: driftless-test",
    "  context:",
    "    cluster: driftless-test",
    "    user: admin",
    "current-context: driftless-test",
    "",
  ].join("\n");
}

// `node test/support/cluster.ts` keeps a control plane up for trying the
// kubernetes-app example by hand (Node >= 23.6 runs this file as it is).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const cluster = await startCluster();
  console.log(`kube-apiserver ${cluster.server} is ready; Ctrl-C stops it and removes ${cluster.dir}`);
  console.log(`KUBECONFIG=${cluster.kubeconfigPath}`);
  console.log(`PATH=${K8S_BIN_DIR}:$PATH  # the Kubernetes provider plugin for the engine`);
  const shutdown = () => void cluster.stop().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  setInterval(() => {}, 1 << 30);
}
