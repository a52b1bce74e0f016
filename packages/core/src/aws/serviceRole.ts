import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import type { Statement } from "./statement.js";
import type { Trust } from "./trust.js";

/** The ServiceAccount annotation EKS reads to hand a pod the role's credentials (IRSA). */
export const IRSA_ANNOTATION = "eks.amazonaws.com/role-arn";

/** Inputs of {@link ServiceRole}. */
export interface ServiceRoleArgs {
  /** Who may assume the role. */
  readonly trust: Trust;
  /**
   * Inline permissions, each checked for least privilege.
   * @default []
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
   */
  readonly statements?: readonly Statement[];
  /**
   * Managed policies to attach; `AdministratorAccess` is refused.
   * @default []
   */
  readonly managedPolicyArns?: readonly pulumi.Input<string>[];
  /**
   * Longest session in seconds (3600-43200).
   * @default 3600
   */
  readonly maxSessionDuration?: number;
  /**
   * Permissions boundary policy ARN.
   * @default - none
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
   */
  readonly permissionsBoundary?: pulumi.Input<string>;
  /**
   * IAM role name (the physical name, unique per account).
   * @default - the component name plus a random suffix (Pulumi auto-naming), so
   * stacks sharing an account do not collide
   * @see https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming
   */
  readonly roleName?: string;
  /**
   * Role description.
   * @default - "Driftless service role <name>"
   */
  readonly description?: string;
  /**
   * Tags on the role.
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * An IAM role for an AWS service or an OIDC-federated workload, with an
 * inline policy built from {@link Statement}s that rejects wildcard actions
 * on every resource.
 */
export class ServiceRole extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly arn: pulumi.Output<string>;
  readonly roleName: pulumi.Output<string>;
  /**
   * The annotation that links a Kubernetes ServiceAccount to this role (IRSA):
   * pass it as a workload's `serviceAccount: { annotations }` or a Namespace's
   * `serviceAccount.annotations`. Trust the account with `Trust.eksServiceAccount`.
   * @see https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
   */
  readonly serviceAccountAnnotations: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: ServiceRoleArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:aws:ServiceRole", name, {}, opts);
    const statements = args.statements ?? [];
    const managed = args.managedPolicyArns ?? [];

    const v = new Validator("ServiceRole", name);
    // The name is the prefix of an auto-named role (Pulumi appends `-` and 7
    // characters), or `roleName` is the exact name: validate what is really used.
    if (args.roleName === undefined) {
      v.check(
        /^[\w+=,.@-]{1,56}$/.test(name),
        "name",
        "must be an IAM role name prefix (1-56 of letters, digits, `+=,.@_-`; auto-naming adds 8)",
        name,
      );
    } else {
      v.check(
        /^[\w+=,.@-]{1,64}$/.test(args.roleName),
        "roleName",
        "must be an IAM role name (1-64 of letters, digits, `+=,.@_-`)",
        args.roleName,
      );
    }
    args.trust.validate(v, "trust");
    for (const [i, s] of statements.entries()) s.validate(v, `statements[${i}]`);
    managed.forEach((arn, i) => {
      if (typeof arn === "string") {
        v.check(
          !arn.endsWith(":policy/AdministratorAccess"),
          `managedPolicyArns[${i}]`,
          "must not grant AdministratorAccess",
          arn,
        );
      }
    });
    v.integer("maxSessionDuration", args.maxSessionDuration, 3600, 43200);

    v.done();

    const parent = { parent: this };
    this.role = new aws.iam.Role(
      name,
      {
        ...(args.roleName === undefined ? {} : { name: args.roleName }),
        assumeRolePolicy: args.trust.toPolicy(),
        description: args.description ?? `Driftless service role ${name}`,
        maxSessionDuration: args.maxSessionDuration ?? 3600,
        ...(args.permissionsBoundary === undefined ? {} : { permissionsBoundary: args.permissionsBoundary }),
        tags: { Name: args.roleName ?? name, ...args.tags },
      },
      parent,
    );
    if (statements.length > 0) {
      new aws.iam.RolePolicy(
        name,
        {
          role: this.role.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: statements.map((s) => s.toJSON()),
          }),
        },
        parent,
      );
    }
    for (const [i, policyArn] of managed.entries()) {
      new aws.iam.RolePolicyAttachment(`${name}-${i}`, { role: this.role.name, policyArn }, parent);
    }

    this.arn = this.role.arn;
    this.roleName = this.role.name;
    this.serviceAccountAnnotations = { [IRSA_ANNOTATION]: this.arn };
    this.registerOutputs({ arn: this.arn, roleName: this.roleName });
  }
}
