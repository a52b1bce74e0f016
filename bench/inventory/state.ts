// The pieces of a lifelike stack state for the inventory benchmark: a
// checkpoint resource as Pulumi writes it, and a builder that adds components,
// Kubernetes objects (as the upstream provider records them after a
// server-side apply: managedFields, controller status) and custom resources.
import { createHash } from "node:crypto";

export const PROJECT = "platform";
export const STACK = "prod";
export const REPO = "https://git.example.com/platform/infra.git";
export const T0 = "2026-11-02T09:14:07.000Z";
const PREFIX = `urn:pulumi:${STACK}::${PROJECT}::`;
export const STACK_URN = `${PREFIX}pulumi:pulumi:Stack::${PROJECT}-${STACK}`;
export const K8S_PROVIDER = `${PREFIX}pulumi:providers:kubernetes::cluster`;
export const AWS_PROVIDER = `${PREFIX}pulumi:providers:aws::default_6_66_0`;

export type Json = Record<string, unknown>;

/** A checkpoint resource (the fields Pulumi writes for one resource). */
export interface CheckpointResource extends Json {
  urn: string;
  type: string;
  custom: boolean;
}

export const hex = (seed: string, length = 40) =>
  createHash("sha256").update(seed).digest("hex").repeat(2).slice(0, length);
export const uid = (seed: string) => {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
/** A value Pulumi encrypted with the stack's passphrase. */
export const secret = (seed: string) => ({
  "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  ciphertext: `v1:${hex(`${seed}nonce`, 16)}:${Buffer.from(hex(seed, 64)).toString("base64")}`,
});
/** `managedFields`' FieldsV1 for a nested object: `f:<key>` per key, `{}` at the leaves. */
export const fields = (value: unknown): unknown => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [`f:${k}`, fields(v)]));
};

/** Adds resources in the order the engine writes them (parents first), up to `count`. */
export class StateBuilder {
  readonly resources: CheckpointResource[] = [];
  /** The commits the resources were last changed at. */
  readonly commits = Array.from({ length: 12 }, (_, i) => hex(`commit-${i}`));

  constructor(readonly count: number) {}

  get full(): boolean {
    return this.resources.length >= this.count;
  }

  add(resource: CheckpointResource): void {
    if (!this.full) this.resources.push({ created: T0, modified: T0, ...resource });
  }

  /** A provider reference, `<urn>::<id>`. */
  providerRef(urn: string): string {
    return `${urn}::${uid(urn)}`;
  }

  component(type: string, name: string, parent = STACK_URN): string {
    const chain = parent === STACK_URN ? type : `${parent.split("::")[2]}$${type}`;
    const urn = `${PREFIX}${chain}::${name}`;
    this.add({ urn, custom: false, type, parent, dependencies: [] });
    return urn;
  }

  childUrn(parent: string, type: string, name: string): string {
    return `${PREFIX}${parent.split("::")[2]}$${type}::${name}`;
  }

  /** A Kubernetes object as the provider records it after a server-side apply. */
  k8s(
    parent: string,
    type: string,
    name: string,
    namespace: string | undefined,
    spec: Json,
    extra: { status?: Json; data?: Json; commit: string; generation?: boolean },
  ): string {
    // `kubernetes:apps/v1:Deployment` → `apps/v1` and `Deployment`; the core group has no name.
    const [, groupVersion = "", kind = ""] = type.split(":");
    const apiVersion = groupVersion.replace(/^core\//, "");
    const urn = this.childUrn(parent, type, name);
    const labels = {
      "app.kubernetes.io/managed-by": "pulumi",
      "app.kubernetes.io/name": name,
      "app.kubernetes.io/part-of": PROJECT,
      "driftless.dev/commit": extra.commit,
      "driftless.dev/path": "platform",
      "driftless.dev/stack": STACK,
    };
    const annotations = {
      "driftless.dev/commit": extra.commit,
      "driftless.dev/path": "platform",
      "driftless.dev/repo": REPO,
    };
    const metadata = { annotations, labels, name, ...(namespace ? { namespace } : {}) };
    const inputs = {
      apiVersion,
      kind,
      metadata,
      ...(extra.data ?? {}),
      ...(Object.keys(spec).length ? { spec } : {}),
    };
    const managedFields = [
      {
        apiVersion,
        fieldsType: "FieldsV1",
        fieldsV1: fields({ metadata: { annotations, labels }, ...(extra.data ?? {}), spec }),
        manager: "pulumi-kubernetes-5ac0f2d8",
        operation: "Apply",
        time: T0,
      },
      ...(extra.status
        ? [
            {
              apiVersion,
              fieldsType: "FieldsV1",
              fieldsV1: fields({ status: extra.status }),
              manager: "kube-controller-manager",
              operation: "Update",
              subresource: "status",
              time: T0,
            },
          ]
        : []),
    ];
    this.add({
      urn,
      custom: true,
      id: namespace ? `${namespace}/${name}` : name,
      type,
      inputs,
      outputs: {
        apiVersion,
        kind,
        metadata: {
          ...metadata,
          creationTimestamp: T0,
          ...(extra.generation ? { generation: 1 } : {}),
          managedFields,
          resourceVersion: String(100000 + this.resources.length),
          uid: uid(urn),
        },
        ...(extra.data ?? {}),
        ...(Object.keys(spec).length ? { spec } : {}),
        ...(extra.status ? { status: extra.status } : {}),
      },
      parent,
      provider: this.providerRef(K8S_PROVIDER),
      dependencies: [],
      propertyDependencies: {
        apiVersion: [],
        kind: [],
        metadata: [],
        ...(Object.keys(spec).length ? { spec: [] } : {}),
      },
    });
    return urn;
  }
}
