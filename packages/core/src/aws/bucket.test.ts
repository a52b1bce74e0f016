import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { Bucket, type BucketArgs } from "./bucket.js";

describe("Bucket", () => {
  it("creates a private, encrypted, versioned bucket without website hosting", async () => {
    const { resources, one, result } = await declare(() => new Bucket("assets", { tags: { team: "web" } }));
    expect(resources.map((r) => r.type).sort()).toEqual([
      "aws:s3/bucket:Bucket",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "aws:s3/bucketVersioning:BucketVersioning",
      "driftless:aws:Bucket",
    ]);
    expect(one("aws:s3/bucket:Bucket").inputs).toMatchObject({ forceDestroy: false, tags: { team: "web" } });
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
});
