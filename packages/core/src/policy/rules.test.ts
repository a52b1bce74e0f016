import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
  containerResourceLimits,
  containersOf,
  imageTagProblem,
  noLatestTag,
  noOpenDatabaseIngress,
  noPublicBucket,
} from "./rules.js";

const r = (type: string, props: Record<string, unknown>) => ({ type, name: "x", custom: true, props });
const pod = (containers: unknown[]) => ({ spec: { template: { spec: { containers } } } });

describe("no-public-bucket", () => {
  it("flags public canned ACLs on buckets and ACL resources", () => {
    expect(noPublicBucket.check(r("aws:s3/bucket:Bucket", { acl: "public-read" }))).toEqual([
      "the canned ACL `public-read` makes objects public",
    ]);
    expect(
      noPublicBucket.check(r("aws:s3/bucketAclV2:BucketAclV2", { acl: "public-read-write" })),
    ).toHaveLength(1);
    expect(noPublicBucket.check(r("aws:s3/bucket:Bucket", { acl: "private" }))).toEqual([]);
    expect(noPublicBucket.check(r("aws:s3/bucket:Bucket", {}))).toEqual([]);
  });

  it("flags a public access block with any switch off, but not one still unknown", () => {
    const type = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
    const all = {
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    };
    expect(noPublicBucket.check(r(type, all))).toEqual([]);
    expect(
      noPublicBucket.check(r(type, { ...all, blockPublicPolicy: false, restrictPublicBuckets: undefined })),
    ).toEqual(["the public access block leaves `blockPublicPolicy`, `restrictPublicBuckets` off"]);
    expect(noPublicBucket.check(r(type, { ...all, blockPublicAcls: pulumi.output(false) }))).toEqual([]);
  });

  it("ignores other types", () => {
    expect(noPublicBucket.check(r("aws:s3/bucketPolicy:BucketPolicy", { acl: "public-read" }))).toEqual([]);
  });
});

describe("container-resource-limits", () => {
  it("requires cpu and memory limits on every container and init container", () => {
    const props = {
      spec: {
        template: {
          spec: {
            containers: [{ name: "a", resources: { limits: { cpu: "1", memory: "1Gi" } } }, { name: "b" }],
            initContainers: [{ name: "c", resources: { limits: { cpu: "1" } } }],
          },
        },
      },
    };
    expect(containerResourceLimits.check(r("kubernetes:apps/v1:Deployment", props))).toEqual([
      "container `b` has no cpu or memory limit",
      "container `c` has no memory limit",
    ]);
  });

  it("finds containers of pods, cron jobs and other workloads, and skips unknown values", () => {
    expect(containersOf(r("kubernetes:core/v1:Pod", { spec: { containers: [{ name: "p" }] } }))).toHaveLength(
      1,
    );
    expect(
      containersOf(
        r("kubernetes:batch/v1:CronJob", {
          spec: { jobTemplate: { spec: { template: { spec: { containers: [{}] } } } } },
        }),
      ),
    ).toHaveLength(1);
    expect(containersOf(r("kubernetes:apps/v1:StatefulSet", pod([{}, {}])))).toHaveLength(2);
    expect(containersOf(r("kubernetes:core/v1:Service", pod([{}])))).toEqual([]);
    expect(containersOf(r("aws:ecs/service:Service", pod([{}])))).toEqual([]);
    expect(containersOf(r("kubernetes:apps/v1:Deployment", { spec: pulumi.output({}) }))).toEqual([]);
    expect(
      containerResourceLimits.check(
        r("kubernetes:apps/v1:Deployment", pod([{ name: "a", resources: pulumi.output({}) }])),
      ),
    ).toEqual([]);
    expect(
      containerResourceLimits.check(
        r("kubernetes:apps/v1:Deployment", pod([{ name: "a", resources: { limits: pulumi.output({}) } }])),
      ),
    ).toEqual([]);
  });
});

describe("no-latest-tag", () => {
  it.each([
    ["nginx", "uses the untagged image `nginx` (which means `latest`)"],
    ["nginx:latest", "uses the `latest` tag in `nginx:latest`"],
    ["registry:5000/team/app", "uses the untagged image `registry:5000/team/app` (which means `latest`)"],
    ["registry:5000/team/app:latest", "uses the `latest` tag"],
  ])("flags %s", (image, problem) => {
    expect(imageTagProblem(image)).toContain(problem);
  });

  it.each(["nginx:1.27", "registry:5000/team/app:v2", "nginx@sha256:abcd", "ghcr.io/a/b:latest@sha256:abcd"])(
    "accepts %s",
    (image) => {
      expect(imageTagProblem(image)).toBeUndefined();
    },
  );

  it("names the container and skips images that are Outputs", () => {
    expect(
      noLatestTag.check(r("kubernetes:apps/v1:Deployment", pod([{ name: "web", image: "nginx" }]))),
    ).toEqual(["container `web` uses the untagged image `nginx` (which means `latest`)"]);
    expect(
      noLatestTag.check(
        r("kubernetes:apps/v1:Deployment", pod([{ name: "web", image: pulumi.output("nginx") }])),
      ),
    ).toEqual([]);
  });
});

describe("no-open-database-ingress", () => {
  const sg = "aws:ec2/securityGroup:SecurityGroup";
  it("flags the internet on a database port in inline rules", () => {
    expect(
      noOpenDatabaseIngress.check(
        r(sg, { ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["0.0.0.0/0"] }] }),
      ),
    ).toEqual(["admits `0.0.0.0/0` to database port 5432"]);
    expect(
      noOpenDatabaseIngress.check(
        r(sg, { ingress: [{ protocol: "tcp", fromPort: 3000, toPort: 4000, ipv6CidrBlocks: ["::/0"] }] }),
      ),
    ).toEqual(["admits `::/0` to database port 3306"]);
    expect(
      noOpenDatabaseIngress.check(
        r(sg, { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] }),
      ),
    ).toEqual(["admits `0.0.0.0/0` to database port 5432"]);
  });

  it("accepts web ports open to the internet and databases open to private ranges", () => {
    expect(
      noOpenDatabaseIngress.check(
        r(sg, { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }] }),
      ),
    ).toEqual([]);
    expect(
      noOpenDatabaseIngress.check(
        r(sg, { ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.0.0.0/8"] }] }),
      ),
    ).toEqual([]);
    expect(
      noOpenDatabaseIngress.check(r(sg, { ingress: [{ protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] }] })),
    ).toEqual([]);
    expect(noOpenDatabaseIngress.check(r(sg, {}))).toEqual([]);
  });

  it("checks standalone rule resources", () => {
    expect(
      noOpenDatabaseIngress.check(
        r("aws:ec2/securityGroupRule:SecurityGroupRule", {
          type: "ingress",
          protocol: "tcp",
          fromPort: 6379,
          toPort: 6379,
          cidrBlocks: ["0.0.0.0/0"],
        }),
      ),
    ).toEqual(["admits `0.0.0.0/0` to database port 6379"]);
    expect(
      noOpenDatabaseIngress.check(
        r("aws:ec2/securityGroupRule:SecurityGroupRule", {
          type: "egress",
          protocol: "tcp",
          fromPort: 6379,
          toPort: 6379,
          cidrBlocks: ["0.0.0.0/0"],
        }),
      ),
    ).toEqual([]);
    expect(
      noOpenDatabaseIngress.check(
        r("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
          ipProtocol: "tcp",
          fromPort: 27017,
          toPort: 27017,
          cidrIpv4: "0.0.0.0/0",
        }),
      ),
    ).toEqual(["admits `0.0.0.0/0` to database port 27017"]);
  });
});
