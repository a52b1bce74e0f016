import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare } from "../../test/harness.js";
import { DriftlessError } from "../errors.js";
import { stripCredentials, toLabelValue, toTagValue } from "../internal/sanitize.js";
import { WebService } from "../k8s/webService.js";
import { PROVENANCE_ENV } from "./constants.js";
import { enableProvenance, provenanceTags, resolveProvenance, stampProvenance } from "./provenance.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const env = {
  [PROVENANCE_ENV.repo]: "https://x-access-token:ghp_secret@github.com/acme/infra.git?token=abc",
  [PROVENANCE_ENV.commit]: SHA.toUpperCase(),
  [PROVENANCE_ENV.path]: "stacks/prod/web app",
  [PROVENANCE_ENV.stack]: "prod",
};

describe("sanitising", () => {
  it.each([
    ["stacks/prod/web app", "stacks_prod_web_app"],
    ["-leading and trailing-", "leading_and_trailing"],
    ["a".repeat(70), "a".repeat(63)],
    [`${"a".repeat(62)}._b`, "a".repeat(62)],
    ["///", undefined],
    ["prod", "prod"],
  ])("makes %j a label value %j", (input, expected) => {
    const value = toLabelValue(input);
    expect(value).toBe(expected);
    if (value !== undefined) expect(value).toMatch(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/);
  });

  it("keeps allowed tag characters and truncates to 256", () => {
    expect(toTagValue("https://github.com/acme/infra.git")).toBe("https://github.com/acme/infra.git");
    expect(toTagValue("a#b")).toBe("a_b");
    expect(toTagValue("x".repeat(300))).toHaveLength(256);
  });

  it.each([
    ["https://user:pass@github.com/a/b.git", "https://github.com/a/b.git"],
    ["https://token@github.com/a/b.git?x=1#frag", "https://github.com/a/b.git"],
    ["ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"],
    ["ssh://git:pw@github.com/a/b.git", "ssh://github.com/a/b.git"],
    ["git@github.com:a/b.git", "git@github.com:a/b.git"],
    ["file:///srv/repo", "file:///srv/repo"],
  ])("strips credentials from %s", (input, expected) => {
    expect(stripCredentials(input)).toBe(expected);
  });
});

describe("resolveProvenance", () => {
  it("reads the DRIFTLESS_* variables, lower-cases the SHA and strips credentials", () => {
    expect(resolveProvenance({ env })).toEqual({
      repo: "https://github.com/acme/infra.git",
      commit: SHA,
      path: "stacks/prod/web app",
      stack: "prod",
    });
  });

  it("prefers explicit values and falls back to the Pulumi stack", () => {
    expect(resolveProvenance({ env: {}, commit: SHA, path: "p" })).toEqual({
      commit: SHA,
      path: "p",
      stack: pulumi.getStack(),
    });
    expect(resolveProvenance({ env: { [PROVENANCE_ENV.stack]: "  " } }).stack).toBe(pulumi.getStack());
  });

  it("rejects a short or malformed commit", () => {
    expect(() => resolveProvenance({ env: { [PROVENANCE_ENV.commit]: "abc123" } })).toThrow(DriftlessError);
    expect(() => resolveProvenance({ env: {}, commit: "z".repeat(40) })).toThrow(
      "enableProvenance: `commit` (or DRIFTLESS_GIT_COMMIT) must be a full 40-hex-digit SHA",
    );
  });
});

describe("stampProvenance", () => {
  const p = resolveProvenance({ env });

  it("ignores components, non-taggable AWS types and other providers", () => {
    expect(
      stampProvenance({ type: "driftless:k8s:WebService", name: "x", custom: false, props: {} }, p),
    ).toBeUndefined();
    expect(
      stampProvenance({ type: "aws:s3/bucketPolicy:BucketPolicy", name: "x", custom: true, props: {} }, p),
    ).toBeUndefined();
    expect(
      stampProvenance({ type: "random:index/randomId:RandomId", name: "x", custom: true, props: {} }, p),
    ).toBeUndefined();
    expect(
      stampProvenance({ type: "kubernetes:helm.sh/v3:Release", name: "x", custom: true, props: {} }, p),
    ).toBeUndefined();
    expect(
      stampProvenance({ type: "kubernetes:core/v1:ConfigMapList", name: "x", custom: true, props: {} }, p),
    ).toBeUndefined();
  });

  it("tags a new AWS type that takes tags even if it is not in the generated list", () => {
    const stamped = stampProvenance(
      { type: "aws:new/thing:Thing", name: "x", custom: true, props: { tags: undefined } },
      p,
    );
    expect(stamped?.tags).toEqual(provenanceTags(p));
  });

  it("merges into tags and metadata that are still Outputs", async () => {
    const stamped = stampProvenance(
      { type: "aws:sqs/queue:Queue", name: "q", custom: true, props: { tags: pulumi.output({ team: "a" }) } },
      p,
    );
    const tags = await new Promise((resolve) => pulumi.output(stamped?.tags).apply(resolve));
    expect(tags).toMatchObject({ team: "a", "driftless:stack": "prod" });
    const meta = stampProvenance(
      {
        type: "kubernetes:core/v1:Secret",
        name: "s",
        custom: true,
        props: { metadata: pulumi.output({ name: "s" }) },
      },
      p,
    );
    const metadata = await new Promise((resolve) => pulumi.output(meta?.metadata).apply(resolve));
    expect(metadata).toMatchObject({ name: "s", labels: { "driftless.dev/stack": "prod" } });
  });
});

describe("enableProvenance", () => {
  it("stamps Kubernetes labels/annotations and AWS tags on every resource declared after it", async () => {
    const { one, result } = await declare(() => {
      const enabled = enableProvenance({ env });
      new WebService("api", { image: "acme/api:1.0.0", labels: { team: "shop" } });
      new aws.s3.Bucket("raw", { tags: { team: "data" } });
      new aws.ec2.Vpc("vpc", { cidrBlock: "10.0.0.0/16" });
      return enabled;
    });
    expect(result.mode).toBe("in-process");
    expect(result.provenance.commit).toBe(SHA);

    const deployment = one("kubernetes:apps/v1:Deployment").inputs;
    expect(deployment.metadata.labels).toMatchObject({
      team: "shop",
      "app.kubernetes.io/name": "api",
      "driftless.dev/commit": SHA,
      "driftless.dev/stack": "prod",
      "driftless.dev/path": "stacks_prod_web_app",
    });
    expect(deployment.metadata.annotations).toEqual({
      "pulumi.com/patchForce": "true",
      "driftless.dev/repo": "https://github.com/acme/infra.git",
      "driftless.dev/commit": SHA,
      "driftless.dev/path": "stacks/prod/web app",
    });
    // The pod template is left alone so a new commit does not roll every pod.
    expect(deployment.spec.template.metadata.labels["driftless.dev/commit"]).toBeUndefined();
    expect(one("kubernetes:core/v1:Service").inputs.metadata.labels["driftless.dev/commit"]).toBe(SHA);

    const tags = {
      "driftless:repo": "https://github.com/acme/infra.git",
      "driftless:commit": SHA,
      "driftless:path": "stacks/prod/web app",
      "driftless:stack": "prod",
    };
    expect(one("aws:s3/bucket:Bucket").inputs.tags).toEqual({ team: "data", ...tags });
    expect(one("aws:ec2/vpc:Vpc").inputs.tags).toEqual(tags);
  });

  it("creates metadata for a Kubernetes object declared without any", async () => {
    const { one } = await declare(() => {
      enableProvenance({ env: {}, commit: SHA, stack: "dev" });
      new k8s.core.v1.Namespace("bare");
    });
    expect(one("kubernetes:core/v1:Namespace").inputs.metadata).toEqual({
      labels: { "driftless.dev/commit": SHA, "driftless.dev/stack": "dev" },
      annotations: { "driftless.dev/commit": SHA },
    });
  });

  it("leaves resources alone when not enabled", async () => {
    const { one } = await declare(() => new aws.s3.Bucket("raw", { tags: { team: "data" } }));
    expect(one("aws:s3/bucket:Bucket").inputs.tags).toEqual({ team: "data" });
  });
});
