// Replication of a Bucket to another bucket: its validation, and the role S3
// assumes, the role's policy and the replication configuration.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";
import { STORAGE_CLASSES, type StorageClass } from "./bucketLifecycle.js";

/** `BucketArgs.replication`: where and how a bucket replicates its objects. */
export interface BucketReplicationArgs {
  /** ARN of the destination bucket. */
  readonly destinationBucketArn: pulumi.Input<string>;
  /**
   * Storage class of the replicas.
   * @default "STANDARD"
   */
  readonly storageClass?: "STANDARD" | StorageClass;
  /**
   * KMS key ARN in the destination for the replicas; required when this bucket uses `kmsKeyArn`.
   * @default - SSE-S3 at the destination
   */
  readonly destinationKmsKeyArn?: pulumi.Input<string>;
}

/** Checks `r`; `versioning` is the bucket's resolved setting, `kmsKeyArn` its key. */
export function validateReplication(
  v: Validator,
  r: BucketReplicationArgs,
  versioning: boolean,
  kmsKeyArn: pulumi.Input<string> | undefined,
): void {
  v.check(versioning, "replication", "needs `versioning` on", r);
  v.oneOf("replication.storageClass", r.storageClass, ["STANDARD", ...STORAGE_CLASSES]);
  v.check(
    kmsKeyArn === undefined || r.destinationKmsKeyArn !== undefined,
    "replication.destinationKmsKeyArn",
    "is required when the bucket is encrypted with `kmsKeyArn`",
    undefined,
  );
}

/**
 * Creates the role S3 assumes to replicate `bucket`, its policy, and the
 * replication configuration, which waits for `versioning` (S3 refuses one before).
 */
export function createReplication(
  parent: pulumi.Resource,
  name: string,
  bucket: aws.s3.Bucket,
  r: BucketReplicationArgs,
  kmsKeyArn: pulumi.Input<string> | undefined,
  versioning: aws.s3.BucketVersioning,
): void {
  const arn = bucket.arn;
  const role = new aws.iam.Role(
    `${name}-replication`,
    {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
      tags: { Name: `${name}-replication` },
    },
    { parent },
  );
  new aws.iam.RolePolicy(
    `${name}-replication`,
    {
      role: role.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            Resource: arn,
          },
          {
            Effect: "Allow",
            Action: [
              "s3:GetObjectVersionForReplication",
              "s3:GetObjectVersionAcl",
              "s3:GetObjectVersionTagging",
            ],
            Resource: pulumi.interpolate`${arn}/*`,
          },
          {
            Effect: "Allow",
            Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            Resource: pulumi.interpolate`${r.destinationBucketArn}/*`,
          },
          ...(kmsKeyArn === undefined
            ? []
            : [
                { Effect: "Allow", Action: ["kms:Decrypt"], Resource: kmsKeyArn },
                { Effect: "Allow", Action: ["kms:Encrypt"], Resource: r.destinationKmsKeyArn },
              ]),
        ],
      }),
    },
    { parent },
  );
  new aws.s3.BucketReplicationConfig(
    name,
    {
      bucket: bucket.id,
      role: role.arn,
      rules: [
        {
          id: "all",
          status: "Enabled",
          filter: {},
          deleteMarkerReplication: { status: "Enabled" },
          ...(kmsKeyArn === undefined
            ? {}
            : { sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } } }),
          destination: {
            bucket: r.destinationBucketArn,
            storageClass: r.storageClass ?? "STANDARD",
            ...(r.destinationKmsKeyArn === undefined
              ? {}
              : { encryptionConfiguration: { replicaKmsKeyId: r.destinationKmsKeyArn } }),
          },
        },
      ],
    },
    // S3 refuses a replication configuration before versioning is on.
    { parent, dependsOn: [versioning] },
  );
}
