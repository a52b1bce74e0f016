// Platform parts of the benchmark's stack: Namespaces (quota, limits,
// default-deny policies, a service account) and S3 Buckets with their settings.
import { AWS_PROVIDER, hex, type Json, PROJECT, REPO, STACK, type StateBuilder } from "./state.js";

/** core's `Namespace` component and its children. */
export function namespace(state: StateBuilder, ns: string, commit: string): void {
  const parent = state.component("driftless:k8s:Namespace", ns);
  state.k8s(
    parent,
    "kubernetes:core/v1:Namespace",
    ns,
    undefined,
    {},
    {
      commit,
      status: { phase: "Active" },
    },
  );
  state.k8s(
    parent,
    "kubernetes:core/v1:ResourceQuota",
    ns,
    ns,
    { hard: { "limits.cpu": "40", "limits.memory": "80Gi", pods: "200" } },
    {
      commit,
      status: {
        hard: { "limits.cpu": "40", "limits.memory": "80Gi", pods: "200" },
        used: { "limits.cpu": "6", "limits.memory": "12Gi", pods: "24" },
      },
    },
  );
  state.k8s(
    parent,
    "kubernetes:core/v1:LimitRange",
    ns,
    ns,
    {
      limits: [
        {
          default: { cpu: "500m", memory: "512Mi" },
          defaultRequest: { cpu: "100m", memory: "128Mi" },
          type: "Container",
        },
      ],
    },
    { commit },
  );
  state.k8s(
    parent,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    `${ns}-deny-all`,
    ns,
    { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    { commit, generation: true },
  );
  state.k8s(
    parent,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    `${ns}-allow-same-namespace`,
    ns,
    {
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [
        { to: [{ podSelector: {} }] },
        {
          ports: [
            { port: 53, protocol: "UDP" },
            { port: 53, protocol: "TCP" },
          ],
          to: [{ namespaceSelector: {} }],
        },
      ],
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
    },
    { commit, generation: true },
  );
  state.k8s(
    parent,
    "kubernetes:core/v1:ServiceAccount",
    `${ns}-default`,
    ns,
    {},
    { commit, data: { automountServiceAccountToken: false } },
  );
}

/** core's `Bucket` component and its children, as the AWS provider records them. */
export function bucket(state: StateBuilder, b: number, commit: string): void {
  const name = `assets-${b}`;
  const parent = state.component("driftless:aws:Bucket", name);
  const bucket = `${PROJECT}-${STACK}-${name}-${hex(name, 7)}`;
  const tags = {
    "driftless:commit": commit,
    "driftless:path": "platform",
    "driftless:repo": REPO,
    "driftless:stack": STACK,
    team: `team-${b % 8}`,
  };
  const aws = (type: string, suffix: string, outputs: Json) => {
    const urn = state.childUrn(parent, type, `${name}${suffix}`);
    state.add({
      urn,
      custom: true,
      id: bucket,
      type,
      inputs: { __defaults: [], ...outputs },
      outputs: { id: bucket, ...outputs },
      parent,
      provider: state.providerRef(AWS_PROVIDER),
      dependencies: [],
      propertyDependencies: {},
    });
  };
  aws("aws:s3/bucket:Bucket", "", {
    accelerationStatus: "",
    arn: `arn:aws:s3:::${bucket}`,
    bucket,
    bucketDomainName: `${bucket}.s3.amazonaws.com`,
    bucketPrefix: "",
    bucketRegionalDomainName: `${bucket}.s3.eu-west-1.amazonaws.com`,
    corsRules: [],
    forceDestroy: false,
    grants: [{ id: hex(`owner`, 64), permissions: ["FULL_CONTROL"], type: "CanonicalUser", uri: "" }],
    hostedZoneId: "Z1BKCTXD74EZPE",
    lifecycleRules: [],
    loggings: [],
    objectLockConfiguration: null,
    objectLockEnabled: false,
    policy: "",
    region: "eu-west-1",
    replicationConfiguration: null,
    requestPayer: "BucketOwner",
    serverSideEncryptionConfiguration: {
      rule: {
        applyServerSideEncryptionByDefault: { kmsMasterKeyId: "", sseAlgorithm: "aws:kms" },
        bucketKeyEnabled: true,
      },
    },
    tags,
    tagsAll: tags,
    versioning: { enabled: true, mfaDelete: false },
    website: null,
    websiteDomain: null,
    websiteEndpoint: null,
  });
  aws("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "-public-access", {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    bucket,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  aws("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "-ownership", {
    bucket,
    rule: { objectOwnership: "BucketOwnerEnforced" },
  });
  aws(
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    "-encryption",
    {
      bucket,
      expectedBucketOwner: "",
      rules: [
        {
          applyServerSideEncryptionByDefault: { kmsMasterKeyId: "", sseAlgorithm: "aws:kms" },
          bucketKeyEnabled: true,
        },
      ],
    },
  );
  aws("aws:s3/bucketVersioningV2:BucketVersioningV2", "-versioning", {
    bucket,
    expectedBucketOwner: "",
    mfa: null,
    versioningConfiguration: { mfaDelete: "", status: "Enabled" },
  });
}
