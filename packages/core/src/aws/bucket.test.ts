import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, rejected, settle } from "../../test/harness.js";
import type { ValidationError } from "../errors.js";
import { Bucket, type BucketArgs } from "./bucket.js";

describe("Bucket", () => {
  it("creates a private, encrypted, versioned bucket without website hosting", async () => {
    const { resources, one, result } = await declare(() => new Bucket("assets", { tags: { team: "web" } }));
    expect(resources.map((r) => r.type).sort()).toEqual([
      "aws:s3/bucket:Bucket",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
      "aws:s3/bucketPolicy:BucketPolicy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "aws:s3/bucketVersioning:BucketVersioning",
      "driftless:aws:Bucket",
    ]);
    expect(one("aws:s3/bucket:Bucket").inputs).toMatchObject({
      forceDestroy: false,
      tags: { Name: "assets", team: "web" },
    });
    const policy = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    expect(policy.Statement).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: ["arn:aws:s3:::assets", "arn:aws:s3:::assets/*"],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toEqual({
      bucket: "assets-id",
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs.rule).toEqual({
      objectOwnership: "BucketOwnerEnforced",
    });
    expect(
      one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
        .rules,
    ).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: false }]);
    expect(one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration).toEqual({
      status: "Enabled",
    });
    expect(await settle(result.bucketName)).toBe("assets");
    expect(await settle(result.arn)).toBe("arn:aws:s3:::assets");
    expect(await settle(result.websiteEndpoint)).toBeUndefined();
  });

  it("uses KMS, lifecycle rules and website hosting when asked", async () => {
    const { one } = await declare(
      () =>
        new Bucket("site", {
          kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/abc",
          forceDestroy: true,
          lifecycleRules: [
            {
              id: "logs",
              prefix: "logs/",
              expirationDays: 365,
              noncurrentVersionExpirationDays: 30,
              transitions: [{ days: 30, storageClass: "STANDARD_IA" }],
            },
            { id: "uploads", abortIncompleteMultipartUploadDays: 1 },
          ],
          website: { indexDocument: "main.html", errorDocument: "404.html" },
        }),
    );
    expect(
      one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
        .rules[0],
    ).toEqual({
      applyServerSideEncryptionByDefault: {
        sseAlgorithm: "aws:kms",
        kmsMasterKeyId: "arn:aws:kms:eu-west-1:1:key/abc",
      },
      bucketKeyEnabled: true,
    });
    expect(one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules).toEqual([
      {
        id: "logs",
        status: "Enabled",
        filter: { prefix: "logs/" },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
        expiration: { days: 365 },
        noncurrentVersionExpiration: { noncurrentDays: 30 },
        transitions: [{ days: 30, storageClass: "STANDARD_IA" }],
      },
      {
        id: "uploads",
        status: "Enabled",
        filter: { prefix: "" },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      },
    ]);
    expect(one("aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration").inputs).toMatchObject({
      indexDocument: { suffix: "main.html" },
      errorDocument: { key: "404.html" },
    });
  });

  it("suspends versioning when turned off", async () => {
    const { one } = await declare(() => new Bucket("tmp", { versioning: false, website: {} }));
    expect(one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration.status).toBe(
      "Suspended",
    );
    expect(one("aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration").inputs.indexDocument).toEqual({
      suffix: "index.html",
    });
  });

  it.each([
    [
      { lifecycleRules: [{ id: "a b" }] },
      'Bucket `b`: `lifecycleRules[0].id` must be 1-255 letters, digits, `_`, `.` or `-`, got "a b"',
    ],
    [
      { lifecycleRules: [{ id: "a" }, { id: "a" }] },
      '`lifecycleRules[1].id` is used by another rule, got "a"',
    ],
    [
      { lifecycleRules: [{ id: "a", expirationDays: 0 }] },
      "`lifecycleRules[0].expirationDays` must be at least 1, got 0",
    ],
    [
      { versioning: false, lifecycleRules: [{ id: "a", noncurrentVersionExpirationDays: 5 }] },
      "`lifecycleRules[0].noncurrentVersionExpirationDays` needs `versioning` on, got 5",
    ],
    [
      {
        lifecycleRules: [
          { id: "a", expirationDays: 10, transitions: [{ days: 30, storageClass: "GLACIER" }] },
        ],
      },
      "`lifecycleRules[0].transitions[0].days` must come before the expiration (day 10), got 30",
    ],
    [
      { lifecycleRules: [{ id: "a", transitions: [{ days: 30, storageClass: "COLD" as "GLACIER" }] }] },
      "`lifecycleRules[0].transitions[0].storageClass` must be one of",
    ],
    [
      { website: { indexDocument: "a/index.html" } },
      '`website.indexDocument` must be an object name without `/`, got "a/index.html"',
    ],
  ] as [BucketArgs, string][])("rejects %j", async (args, message) => {
    await expect(declare(() => new Bucket("b", args))).rejects.toThrow(message);
  });

  it("writes access logs, locks objects, and drops the TLS policy only when asked", async () => {
    const { all, one } = await declare(
      () =>
        new Bucket("audit", {
          requireTls: false,
          accessLogs: { bucket: "logs-bucket" },
          objectLock: { mode: "COMPLIANCE", days: 365 },
        }),
    );
    expect(all("aws:s3/bucketPolicy:BucketPolicy")).toHaveLength(0);
    expect(one("aws:s3/bucket:Bucket").inputs.objectLockEnabled).toBe(true);
    expect(one("aws:s3/bucketLogging:BucketLogging").inputs).toMatchObject({
      bucket: "audit-id",
      targetBucket: "logs-bucket",
      targetPrefix: "audit/",
    });
    expect(one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").inputs.rule).toEqual({
      defaultRetention: { mode: "COMPLIANCE", days: 365 },
    });
    await expect(
      declare(() => new Bucket("audit", { versioning: false, objectLock: { mode: "GOVERNANCE", days: 0 } })),
    ).rejects.toThrow("Bucket `audit`: 2 problems:");
  });

  it("grants read or read-write access as ServiceRole statements", async () => {
    const { result } = await declare(() => new Bucket("assets"));
    const json = async (statements: ReturnType<Bucket["grantRead"]>) =>
      Promise.all(
        statements.map(async (st) => {
          const s = st.toJSON();
          return {
            ...s,
            Resource: await Promise.all(
              (s.Resource as pulumi.Input<string>[]).map((r) => settle(pulumi.output(r))),
            ),
          };
        }),
      );
    expect(await json(result.grantRead())).toEqual([
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::assets/*"] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::assets"] },
    ]);
    const rw = await json(result.grantReadWrite("uploads/"));
    expect(rw[0]).toEqual({
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      Resource: ["arn:aws:s3:::assets/uploads/*"],
    });
    expect((rw[1] as Record<string, unknown> | undefined)?.Condition).toEqual({
      StringLike: { "s3:prefix": ["uploads/*"] },
    });
  });

  it("replicates to another bucket through a role S3 assumes", async () => {
    const { one } = await declare(
      () =>
        new Bucket("assets", {
          kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/src",
          replication: {
            destinationBucketArn: "arn:aws:s3:::assets-dr",
            storageClass: "STANDARD_IA",
            destinationKmsKeyArn: "arn:aws:kms:eu-central-1:1:key/dst",
          },
        }),
    );
    const rule = one("aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs.rules[0];
    expect(rule).toMatchObject({
      status: "Enabled",
      deleteMarkerReplication: { status: "Enabled" },
      sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
      destination: {
        bucket: "arn:aws:s3:::assets-dr",
        storageClass: "STANDARD_IA",
        encryptionConfiguration: { replicaKmsKeyId: "arn:aws:kms:eu-central-1:1:key/dst" },
      },
    });
    expect(
      JSON.parse(one("aws:iam/role:Role", "assets-replication").inputs.assumeRolePolicy).Statement[0]
        .Principal,
    ).toEqual({
      Service: "s3.amazonaws.com",
    });
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
    expect(policy.Statement.slice(0, 2).map((s: { Resource: string }) => s.Resource)).toEqual([
      "arn:aws:s3:::assets",
      "arn:aws:s3:::assets/*",
    ]);
    expect(policy.Statement[2]).toEqual({
      Effect: "Allow",
      Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
      Resource: "arn:aws:s3:::assets-dr/*",
    });
    expect(policy.Statement).toHaveLength(5);
    const error = await rejected<ValidationError>(
      declare(
        () =>
          new Bucket("assets", {
            versioning: false,
            kmsKeyArn: "k",
            replication: { destinationBucketArn: "arn:aws:s3:::x", storageClass: "COLD" as "GLACIER" },
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "replication",
      "replication.storageClass",
      "replication.destinationKmsKeyArn",
    ]);
  });
});
