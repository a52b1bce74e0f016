// Lifecycle rules of a Bucket: their inputs, validation, and the rules of the
// bucket's lifecycle configuration.
import type * as aws from "@pulumi/aws";
import type { Validator } from "../internal/validator.js";

/** S3 storage classes a lifecycle rule can move objects to. */
export type StorageClass =
  | "STANDARD_IA"
  | "ONEZONE_IA"
  | "INTELLIGENT_TIERING"
  | "GLACIER_IR"
  | "GLACIER"
  | "DEEP_ARCHIVE";

/**
 * One lifecycle rule.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html
 */
export interface LifecycleRuleArgs {
  /** Rule id, unique within the bucket. */
  readonly id: string;
  /**
   * Key prefix the rule applies to.
   * @default "" (every object)
   */
  readonly prefix?: string;
  /**
   * Days after creation that current versions expire.
   * @default - never
   */
  readonly expirationDays?: number;
  /**
   * Days after becoming noncurrent that old versions are deleted.
   * @default - never
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Moves to cheaper storage classes.
   * @default []
   */
  readonly transitions?: readonly { readonly days: number; readonly storageClass: StorageClass }[];
  /**
   * Days after which incomplete multipart uploads are aborted.
   * @default 7
   */
  readonly abortIncompleteMultipartUploadDays?: number;
}

/** Every {@link StorageClass}, for validation. */
export const STORAGE_CLASSES: readonly StorageClass[] = [
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER_IR",
  "GLACIER",
  "DEEP_ARCHIVE",
];

/** Checks `rules`; `versioning` is the bucket's resolved setting. */
export function validateLifecycleRules(
  v: Validator,
  rules: readonly LifecycleRuleArgs[],
  versioning: boolean,
): void {
  const ids = new Set<string>();
  rules.forEach((r, i) => {
    const field = `lifecycleRules[${i}]`;
    v.check(
      /^[\w.-]{1,255}$/.test(r.id),
      `${field}.id`,
      "must be 1-255 letters, digits, `_`, `.` or `-`",
      r.id,
    );
    v.check(!ids.has(r.id), `${field}.id`, "is used by another rule", r.id);
    ids.add(r.id);
    v.integer(`${field}.expirationDays`, r.expirationDays, 1);
    v.integer(`${field}.noncurrentVersionExpirationDays`, r.noncurrentVersionExpirationDays, 1);
    v.integer(`${field}.abortIncompleteMultipartUploadDays`, r.abortIncompleteMultipartUploadDays, 1);
    if (r.noncurrentVersionExpirationDays !== undefined) {
      v.check(
        versioning,
        `${field}.noncurrentVersionExpirationDays`,
        "needs `versioning` on",
        r.noncurrentVersionExpirationDays,
      );
    }
    (r.transitions ?? []).forEach((t, j) => {
      v.integer(`${field}.transitions[${j}].days`, t.days, 0);
      v.oneOf(`${field}.transitions[${j}].storageClass`, t.storageClass, STORAGE_CLASSES);
      if (r.expirationDays !== undefined) {
        v.check(
          t.days < r.expirationDays,
          `${field}.transitions[${j}].days`,
          `must come before the expiration (day ${r.expirationDays})`,
          t.days,
        );
      }
    });
  });
}

/** The rules of the bucket's lifecycle configuration. */
export function lifecycleRules(
  rules: readonly LifecycleRuleArgs[],
): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
  return rules.map((r) => ({
    id: r.id,
    status: "Enabled",
    filter: { prefix: r.prefix ?? "" },
    abortIncompleteMultipartUpload: {
      daysAfterInitiation: r.abortIncompleteMultipartUploadDays ?? 7,
    },
    ...(r.expirationDays === undefined ? {} : { expiration: { days: r.expirationDays } }),
    ...(r.noncurrentVersionExpirationDays === undefined
      ? {}
      : { noncurrentVersionExpiration: { noncurrentDays: r.noncurrentVersionExpirationDays } }),
    ...(r.transitions?.length
      ? { transitions: r.transitions.map((t) => ({ days: t.days, storageClass: t.storageClass })) }
      : {}),
  }));
}
