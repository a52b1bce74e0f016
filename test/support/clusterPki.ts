// The certificates and kubeconfig of a test cluster (see ./cluster.ts): made
// with the openssl CLI for each run, valid two days.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where a test cluster's certificates and keys are. */
export interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPublic: string;
}

/** A CA, the API server's serving certificate, an admin client certificate and the service-account signing key. */
export function makePki(dir: string): Pki {
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

/** A kubeconfig for the cluster admin, with the certificates inline. */
export function renderKubeconfig(server: string, pki: Pki): string {
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
