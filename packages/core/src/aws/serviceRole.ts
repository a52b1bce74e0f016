import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "../internal/validator.js";
import type { Statement } from "./statement.js";
import type { Trust } from "./trust.js";

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

  constructor(name: string, args: ServiceRoleArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:aws:ServiceRole", name, {}, opts);
    const statements = args.statements ?? [];
    const managed = args.managedPolicyArns ?? [];

    const v = new Validator("ServiceRole", name);
    v.check(
      /^[\w+=,.@-]{1,64}$/.test(name),
      "name",
      "must be an IAM role name (1-64 of letters, digits, `+=,.@_-`)",
      name,
    );
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

    const parent = { parent: this };
    this.role = new aws.iam.Role(
      name,
      {
        assumeRolePolicy: args.trust.toPolicy(),
        description: args.description ?? `Driftless service role ${name}`,
        maxSessionDuration: args.maxSessionDuration ?? 3600,
        ...(args.permissionsBoundary === undefined ? {} : { permissionsBoundary: args.permissionsBoundary }),
        tags: { ...args.tags },
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
    this.registerOutputs({ arn: this.arn, roleName: this.roleName });
  }
}
