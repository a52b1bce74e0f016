import { isDeferred, isRecord } from "../internal/inputs.js";
import type { GuardrailRule, ResourceUnderReview } from "./rule.js";

/** Ids of the built-in rules. */
export const RULE_IDS = {
  noPublicBucket: "no-public-bucket",
  containerResourceLimits: "container-resource-limits",
  noLatestTag: "no-latest-tag",
  noOpenDatabaseIngress: "no-open-database-ingress",
} as const;

/** Id of a built-in rule. */
export type BuiltInRuleId = (typeof RULE_IDS)[keyof typeof RULE_IDS];

const PUBLIC_ACLS = new Set(["public-read", "public-read-write", "authenticated-read"]);
const PUBLIC_ACCESS_BLOCK_FIELDS = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
];

/** S3 buckets must not be readable by the public: no public canned ACL, no relaxed public access block. */
export const noPublicBucket: GuardrailRule = {
  id: RULE_IDS.noPublicBucket,
  severity: "error",
  description: "S3 buckets must not be public (no public canned ACL, public access block fully on).",
  check({ type, props }) {
    if (
      type === "aws:s3/bucket:Bucket" ||
      type === "aws:s3/bucketV2:BucketV2" ||
      type.startsWith("aws:s3/bucketAcl")
    ) {
      const acl = props.acl;
      return typeof acl === "string" && PUBLIC_ACLS.has(acl)
        ? [`the canned ACL \`${acl}\` makes objects public`]
        : [];
    }
    if (type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") {
      const off = PUBLIC_ACCESS_BLOCK_FIELDS.filter(
        (field) => props[field] !== true && !isDeferred(props[field]),
      );
      return off.length > 0
        ? [`the public access block leaves ${off.map((f) => `\`${f}\``).join(", ")} off`]
        : [];
    }
    return [];
  },
};

/** Every container of a Kubernetes workload must set CPU and memory limits. */
export const containerResourceLimits: GuardrailRule = {
  id: RULE_IDS.containerResourceLimits,
  severity: "error",
  description: "Every container must set CPU and memory limits.",
  check(resource) {
    return containersOf(resource).flatMap((c) => {
      const resources = c.resources;
      if (isDeferred(resources)) return [];
      const limits = isRecord(resources) ? resources.limits : undefined;
      if (isDeferred(limits)) return [];
      const missing = ["cpu", "memory"].filter((k) => !isRecord(limits) || limits[k] === undefined);
      return missing.length > 0
        ? [`container \`${String(c.name)}\` has no ${missing.join(" or ")} limit`]
        : [];
    });
  },
};

/** Images must be pinned: no `:latest`, no untagged reference (a digest counts as pinned). */
export const noLatestTag: GuardrailRule = {
  id: RULE_IDS.noLatestTag,
  severity: "error",
  description: "Container images must carry a tag other than `latest` or a digest.",
  check(resource) {
    return containersOf(resource).flatMap((c) => {
      const image = c.image;
      if (typeof image !== "string") return [];
      const problem = imageTagProblem(image);
      return problem === undefined ? [] : [`container \`${String(c.name)}\` ${problem}`];
    });
  },
};

/** Explains why `image` is not pinned, or `undefined` when it is. */
export function imageTagProblem(image: string): string | undefined {
  if (image.includes("@")) return undefined;
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  if (colon < 0) return `uses the untagged image \`${image}\` (which means \`latest\`)`;
  if (lastSegment.slice(colon + 1) === "latest") return `uses the \`latest\` tag in \`${image}\``;
  return undefined;
}

/** Well-known database ports: PostgreSQL, MySQL, SQL Server, Oracle, MongoDB, Redis, Redshift, Cassandra, Memcached. */
export const DATABASE_PORTS: readonly number[] = [5432, 3306, 1433, 1521, 27017, 6379, 5439, 9042, 11211];
const OPEN_CIDRS = new Set(["0.0.0.0/0", "::/0"]);

/** Security groups must not admit the whole internet to a database port. */
export const noOpenDatabaseIngress: GuardrailRule = {
  id: RULE_IDS.noOpenDatabaseIngress,
  severity: "error",
  description: "No 0.0.0.0/0 or ::/0 ingress to a database port.",
  check({ type, props }) {
    const rules: Record<string, unknown>[] = [];
    if (type === "aws:ec2/securityGroup:SecurityGroup" && Array.isArray(props.ingress)) {
      rules.push(...props.ingress.filter(isRecord));
    } else if (type === "aws:ec2/securityGroupRule:SecurityGroupRule" && props.type === "ingress") {
      rules.push(props);
    } else if (type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
      rules.push({ ...props, cidrBlocks: [props.cidrIpv4, props.cidrIpv6] });
    }
    return rules.flatMap((rule) => {
      const cidrs = [rule.cidrBlocks, rule.ipv6CidrBlocks].flatMap((v) => (Array.isArray(v) ? v : []));
      const open = cidrs.find((c): c is string => typeof c === "string" && OPEN_CIDRS.has(c));
      if (open === undefined) return [];
      const port = exposedDatabasePort(rule);
      return port === undefined ? [] : [`admits \`${open}\` to database port ${port}`];
    });
  },
};

function exposedDatabasePort(rule: Record<string, unknown>): number | undefined {
  const protocol = String(rule.protocol ?? rule.ipProtocol ?? "tcp").toLowerCase();
  if (protocol === "-1" || protocol === "all") return DATABASE_PORTS[0];
  const from = typeof rule.fromPort === "number" ? rule.fromPort : undefined;
  const to = typeof rule.toPort === "number" ? rule.toPort : from;
  if (from === undefined || to === undefined) return undefined;
  return DATABASE_PORTS.find((p) => p >= from && p <= to);
}

/** The built-in rules, in the order they run. */
export const BUILT_IN_RULES: readonly GuardrailRule[] = [
  noPublicBucket,
  containerResourceLimits,
  noLatestTag,
  noOpenDatabaseIngress,
];

const POD_TEMPLATE_KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "ReplicationController",
]);

/** The containers (and init containers) of a Kubernetes workload's props, as far as they are known. */
export function containersOf({ type, props }: ResourceUnderReview): Record<string, unknown>[] {
  if (!type.startsWith("kubernetes:")) return [];
  const kind = type.slice(type.lastIndexOf(":") + 1);
  let podSpec: unknown;
  if (kind === "Pod") podSpec = props.spec;
  else if (POD_TEMPLATE_KINDS.has(kind)) podSpec = dig(props.spec, "template", "spec");
  else if (kind === "CronJob") podSpec = dig(props.spec, "jobTemplate", "spec", "template", "spec");
  if (!isRecord(podSpec)) return [];
  return [podSpec.containers, podSpec.initContainers].flatMap((list) =>
    Array.isArray(list) ? list.filter(isRecord) : [],
  );
}

function dig(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}
