import * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";

type Principal =
  | { readonly kind: "service"; readonly services: readonly string[]; readonly actions: readonly string[] }
  | {
      readonly kind: "oidc";
      readonly providerArn: pulumi.Input<string>;
      readonly issuer: pulumi.Input<string>;
      readonly subjects: readonly string[];
      readonly audience: string;
    };

/**
 * Who may assume a {@link ServiceRole}: AWS services, or workloads federated
 * through an OIDC provider (EKS service accounts, CI systems).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html
 */
export class Trust {
  readonly principal: Principal;

  private constructor(principal: Principal) {
    this.principal = principal;
  }

  /** AWS services, e.g. `lambda.amazonaws.com`. */
  static service(...services: string[]): Trust {
    return new Trust({ kind: "service", services, actions: ["sts:AssumeRole"] });
  }

  /**
   * Pods of an EKS cluster through EKS Pod Identity: the `pods.eks.amazonaws.com`
   * service may assume the role and tag the session (`sts:TagSession`, which
   * Pod Identity needs). Associate the role with a service account through an
   * `aws.eks.PodIdentityAssociation`.
   * @see https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
   */
  static eksPodIdentity(): Trust {
    return new Trust({
      kind: "service",
      services: ["pods.eks.amazonaws.com"],
      actions: ["sts:AssumeRole", "sts:TagSession"],
    });
  }

  /**
   * Tokens from an OIDC provider whose `sub` claim matches one of `subjects`
   * (wildcards `*` allowed, matched with StringLike).
   */
  static oidc(options: {
    readonly providerArn: pulumi.Input<string>;
    readonly issuer: pulumi.Input<string>;
    readonly subjects: readonly string[];
    readonly audience?: string;
  }): Trust {
    return new Trust({ kind: "oidc", audience: "sts.amazonaws.com", ...options });
  }

  /**
   * Kubernetes service accounts of an EKS cluster (IRSA).
   * @see https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html
   */
  static eksServiceAccount(options: {
    readonly providerArn: pulumi.Input<string>;
    readonly issuer: pulumi.Input<string>;
    readonly namespace: string;
    readonly serviceAccount: string;
  }): Trust {
    return Trust.oidc({
      providerArn: options.providerArn,
      issuer: options.issuer,
      subjects: [`system:serviceaccount:${options.namespace}:${options.serviceAccount}`],
    });
  }

  validate(v: Validator, field: string): void {
    const p = this.principal;
    if (p.kind === "service") {
      v.check(p.services.length > 0, field, "must name at least one service", p.services);
      for (const s of p.services) {
        v.check(
          /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(s),
          field,
          "must name services like `lambda.amazonaws.com`",
          s,
        );
      }
    } else {
      v.check(p.subjects.length > 0, `${field}.subjects`, "must list at least one subject", p.subjects);
      for (const s of p.subjects)
        v.check(
          s !== "*" && s.trim() !== "",
          `${field}.subjects`,
          "must not be `*` (any identity of the provider)",
          s,
        );
    }
  }

  /** The assume-role policy document as JSON. */
  toPolicy(): pulumi.Output<string> {
    const p = this.principal;
    if (p.kind === "service") {
      return pulumi.output(
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: [...p.services] },
              Action: p.actions.length === 1 ? p.actions[0] : [...p.actions],
            },
          ],
        }),
      );
    }
    return pulumi.all([p.providerArn, p.issuer]).apply(([providerArn, issuer]) => {
      const host = issuer.replace(/^https:\/\//, "");
      const wildcard = p.subjects.some((s) => s.includes("*"));
      return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: providerArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${host}:aud`]: p.audience,
                ...(wildcard ? {} : { [`${host}:sub`]: [...p.subjects] }),
              },
              ...(wildcard ? { StringLike: { [`${host}:sub`]: [...p.subjects] } } : {}),
            },
          },
        ],
      });
    });
  }
}
