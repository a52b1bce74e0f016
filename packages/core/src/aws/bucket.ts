import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import { type LifecycleRuleArgs, lifecycleRules, validateLifecycleRules } from "./bucketLifecycle.js";
import { type BucketReplicationArgs, createReplication, validateReplication } from "./bucketReplication.js";
import { Statement } from "./statement.js";

/**
 * Static website hosting (the bucket stays private; serve it through CloudFront).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteHosting.html
 */
export interface WebsiteArgs {
  /**
   * Object served for a directory.
   * @default "index.html"
   */
  readonly indexDocument?: string;
  /**
   * Object served on errors.
   * @default - none
   */
  readonly errorDocument?: string;
}

/** Inputs of {@link Bucket}. */
export interface BucketArgs {
  /**
   * Keep every version of every object.
   * @default true
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html
   */
  readonly versioning?: boolean;
  /**
   * KMS key for server-side encryption.
   * @default - SSE-S3 (AES256)
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/serv-side-encryption.html
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * Lifecycle rules.
   * @default []
   */
  readonly lifecycleRules?: readonly LifecycleRuleArgs[];
  /**
   * Website hosting, only when given.
   * @default - no website hosting
   */
  readonly website?: WebsiteArgs;
  /**
   * Delete all objects when the bucket is destroyed.
   * @default false
   */
  readonly forceDestroy?: boolean;
  /**
   * A bucket policy that denies every request not made over TLS
   * (`aws:SecureTransport` false).
   * @default true
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
   */
  readonly requireTls?: boolean;
  /**
   * Server access logs, written to another bucket (which must allow the S3
   * logging service to write).
   * @default - no access logs
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html
   */
  readonly accessLogs?: { readonly bucket: pulumi.Input<string>; readonly prefix?: string };
  /**
   * Object Lock (WORM) with a default retention; needs `versioning`, and can
   * only be switched on when the bucket is created.
   * @default - no Object Lock
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
   */
  readonly objectLock?: { readonly mode: "GOVERNANCE" | "COMPLIANCE"; readonly days: number };
  /**
   * Replicate new objects (and deletions) to another bucket, e.g. in a second
   * region; needs `versioning` here and on the destination. A role S3 assumes
   * for it is created. With `kmsKeyArn`, give the destination's key too.
   * @default - no replication
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
   */
  readonly replication?: BucketReplicationArgs;
  /**
   * Tags on the bucket.
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A private S3 bucket: public access blocked, server-side encryption,
 * versioning, bucket-owner-enforced ownership (ACLs disabled), optional
 * lifecycle rules, and website hosting only when asked for.
 */
export class Bucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** The TLS-only bucket policy, `undefined` with `requireTls: false`. */
  readonly policy?: aws.s3.BucketPolicy;
  /** The website endpoint, `undefined` without website hosting. */
  readonly websiteEndpoint: pulumi.Output<string | undefined>;

  constructor(name: string, args: BucketArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:aws:Bucket", name, {}, opts);
    const versioning = args.versioning ?? true;
    const rules = args.lifecycleRules ?? [];

    const v = new Validator("Bucket", name);
    if (args.objectLock) {
      v.oneOf("objectLock.mode", args.objectLock.mode, ["GOVERNANCE", "COMPLIANCE"]);
      v.integer("objectLock.days", args.objectLock.days, 1, 36500);
      v.check(versioning, "objectLock", "needs `versioning` on", args.objectLock);
    }
    if (args.replication) validateReplication(v, args.replication, versioning, args.kmsKeyArn);
    if (args.accessLogs?.prefix !== undefined)
      v.check(
        !args.accessLogs.prefix.startsWith("/"),
        "accessLogs.prefix",
        "must not start with `/`",
        args.accessLogs.prefix,
      );
    validateLifecycleRules(v, rules, versioning);
    if (args.website) {
      for (const field of ["indexDocument", "errorDocument"] as const) {
        const doc = args.website[field];
        if (doc !== undefined)
          v.check(
            doc !== "" && !doc.includes("/"),
            `website.${field}`,
            "must be an object name without `/`",
            doc,
          );
      }
    }

    v.done();

    const parent = { parent: this };
    this.bucket = new aws.s3.Bucket(
      name,
      {
        forceDestroy: args.forceDestroy ?? false,
        ...(args.objectLock ? { objectLockEnabled: true } : {}),
        tags: { Name: name, ...args.tags },
      },
      parent,
    );
    const bucket = this.bucket.id;
    new aws.s3.BucketPublicAccessBlock(
      name,
      {
        bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      name,
      { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      name,
      {
        bucket,
        rules: [
          {
            applyServerSideEncryptionByDefault:
              args.kmsKeyArn === undefined
                ? { sseAlgorithm: "AES256" }
                : { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn },
            bucketKeyEnabled: args.kmsKeyArn !== undefined,
          },
        ],
      },
      parent,
    );
    const versioningConfig = new aws.s3.BucketVersioning(
      name,
      { bucket, versioningConfiguration: { status: versioning ? "Enabled" : "Suspended" } },
      parent,
    );
    if (rules.length > 0) {
      new aws.s3.BucketLifecycleConfiguration(
        name,
        {
          bucket,
          rules: lifecycleRules(rules),
        },
        parent,
      );
    }
    let website: aws.s3.BucketWebsiteConfiguration | undefined;
    if (args.website) {
      website = new aws.s3.BucketWebsiteConfiguration(
        name,
        {
          bucket,
          indexDocument: { suffix: args.website.indexDocument ?? "index.html" },
          ...(args.website.errorDocument === undefined
            ? {}
            : { errorDocument: { key: args.website.errorDocument } }),
        },
        parent,
      );
    }

    if (args.requireTls ?? true) {
      this.policy = new aws.s3.BucketPolicy(
        name,
        {
          bucket,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [this.bucket.arn, pulumi.interpolate`${this.bucket.arn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
            ],
          }),
        },
        parent,
      );
    }
    if (args.accessLogs) {
      new aws.s3.BucketLogging(
        name,
        { bucket, targetBucket: args.accessLogs.bucket, targetPrefix: args.accessLogs.prefix ?? `${name}/` },
        parent,
      );
    }
    if (args.objectLock) {
      new aws.s3.BucketObjectLockConfiguration(
        name,
        {
          bucket,
          objectLockEnabled: "Enabled",
          rule: { defaultRetention: { mode: args.objectLock.mode, days: args.objectLock.days } },
        },
        parent,
      );
    }

    if (args.replication)
      createReplication(this, name, this.bucket, args.replication, args.kmsKeyArn, versioningConfig);

    this.bucketName = this.bucket.bucket;
    this.arn = this.bucket.arn;
    this.websiteEndpoint = website ? website.websiteEndpoint : pulumi.output(undefined);
    this.registerOutputs({
      bucketName: this.bucketName,
      arn: this.arn,
      websiteEndpoint: this.websiteEndpoint,
    });
  }

  /**
   * A statement that lets a role read objects (under `prefix`, e.g. `uploads/`)
   * and list the bucket, for a {@link ServiceRole}'s `statements`.
   */
  grantRead(prefix = ""): Statement[] {
    return [
      Statement.allow(["s3:GetObject"], [pulumi.interpolate`${this.arn}/${prefix}*`]),
      this.#list(prefix),
    ];
  }

  /** Statements that let a role read, write and delete objects (under `prefix`) and list the bucket. */
  grantReadWrite(prefix = ""): Statement[] {
    return [
      Statement.allow(
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        [pulumi.interpolate`${this.arn}/${prefix}*`],
      ),
      this.#list(prefix),
    ];
  }

  #list(prefix: string): Statement {
    return Statement.allow(
      ["s3:ListBucket"],
      [this.arn],
      prefix === "" ? undefined : { StringLike: { "s3:prefix": [`${prefix}*`] } },
    );
  }
}
