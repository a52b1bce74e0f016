// Subpath imports load only the Kubernetes SDK, not every provider SDK @driftless/core supports.
import { ConfigBundle, EnvFrom, Job, Namespace, Probe, WebService } from "@driftless/core/k8s";
import { enableGuardrails } from "@driftless/core/policy";
import { enableProvenance } from "@driftless/core/provenance";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

// First, so every object below carries the commit it came from (when run by Driftless).
enableProvenance();
enableGuardrails();

const config = new pulumi.Config();
// An explicit provider: the target cluster is part of the stack, not of whoever runs it.
const provider = new k8s.Provider("cluster", { kubeconfig: config.require("kubeconfig") });

const shop = new Namespace(
  "shop",
  { quota: { requestsCpu: "4", requestsMemory: "8Gi", pods: 50 } },
  { provider },
);

const settings = new ConfigBundle(
  "api-settings",
  { namespace: shop.namespaceName, data: { LOG_LEVEL: config.get("logLevel") ?? "info" } },
  { provider },
);

const image = config.get("image") ?? "ghcr.io/acme/api:1.4.2";
const host = config.get("host");

// Schema migrations run to completion before the new version rolls out; a new
// image replaces the Job, so each release migrates once.
const migrate =
  config.getBoolean("migrate") === false
    ? undefined
    : new Job("api-migrate", { namespace: shop, image, command: ["./migrate", "up"] }, { provider });

const api = new WebService(
  "api",
  {
    namespace: shop.namespaceName,
    image,
    replicas: config.getNumber("replicas") ?? 2,
    port: 8080,
    readiness: Probe.http("/healthz"),
    envFrom: [EnvFrom.bundle(settings)],
    // More than one replica: spread across zones (the default, stated for the reader).
    zoneSpread: "preferred",
    ...(host === undefined
      ? {}
      : {
          ingress: {
            host,
            tlsSecretName: "api-tls",
            // cert-manager issues the certificate into `api-tls`.
            annotations: { "cert-manager.io/cluster-issuer": config.get("clusterIssuer") ?? "letsencrypt" },
          },
        }),
  },
  { provider, dependsOn: migrate ? [migrate] : [] },
);

export const namespace = shop.namespaceName;
export const settingsName = settings.objectName;
export const dnsName = api.dnsName;
