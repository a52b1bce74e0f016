import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import { Validator } from "../internal/validator.js";
import { FIXED_NAME_OPTIONS, objectMetadata } from "./metadata.js";
import { Namespace } from "./namespace.js";

/** One permission of an {@link AccessRole}. @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/#role-examples */
export interface AccessRuleArgs {
  /**
   * API groups, `""` for the core group.
   * @default [""]
   */
  readonly apiGroups?: readonly string[];
  /** Resources, e.g. `["configmaps"]`. */
  readonly resources: readonly string[];
  /** Verbs, e.g. `["get", "list", "watch"]`. */
  readonly verbs: readonly string[];
  /**
   * Only these objects.
   * @default - every object of the resources
   */
  readonly resourceNames?: readonly string[];
}

/** Inputs of {@link AccessRole}. */
export interface AccessRoleArgs {
  /**
   * Namespace of the Role and its binding: a name or a {@link Namespace} component.
   * @default - the provider's namespace
   */
  readonly namespace?: pulumi.Input<string> | Namespace;
  /** What the role allows. */
  readonly rules: readonly AccessRuleArgs[];
  /**
   * ServiceAccounts granted the role: objects, or names in the role's namespace.
   * @default []
   */
  readonly serviceAccounts?: readonly (k8s.core.v1.ServiceAccount | pulumi.Input<string>)[];
}

/**
 * A namespaced RBAC Role and the RoleBinding that grants it to service
 * accounts. Refuses `*` verbs on `*` resources, like IAM wildcards.
 * @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/
 */
export class AccessRole extends pulumi.ComponentResource {
  readonly role: k8s.rbac.v1.Role;
  readonly binding: k8s.rbac.v1.RoleBinding;

  constructor(name: string, args: AccessRoleArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:k8s:AccessRole", name, {}, opts);
    const accounts = args.serviceAccounts ?? [];

    const v = new Validator("AccessRole", name);
    v.dnsLabel("name", name, 253);
    v.check(args.rules.length > 0, "rules", "must hold at least one rule", args.rules);
    for (const [i, r] of args.rules.entries()) {
      v.check(
        r.resources.length > 0,
        `rules[${i}].resources`,
        "must name at least one resource",
        r.resources,
      );
      v.check(r.verbs.length > 0, `rules[${i}].verbs`, "must name at least one verb", r.verbs);
      v.check(
        !(r.verbs.includes("*") && r.resources.includes("*")),
        `rules[${i}]`,
        "grants every verb on every resource (`*`); name the verbs or the resources",
        r,
      );
    }
    for (const [i, a] of accounts.entries()) {
      if (a instanceof k8s.core.v1.ServiceAccount || !isKnown(a)) continue;
      v.dnsLabel(`serviceAccounts[${i}]`, a, 253);
      v.check(
        args.namespace !== undefined,
        `serviceAccounts[${i}]`,
        "needs `namespace`: an account given by name lives in the role's namespace",
        a,
      );
    }
    v.done();

    const namespaced = args.namespace instanceof Namespace;
    const namespace = namespaced
      ? (args.namespace as Namespace).namespaceName
      : (args.namespace as pulumi.Input<string> | undefined);
    const dependsOn = namespaced ? [args.namespace as Namespace] : [];
    const parent = { parent: this, dependsOn, ...FIXED_NAME_OPTIONS };
    const meta = objectMetadata({
      name,
      namespace,
      labels: { "app.kubernetes.io/managed-by": "driftless" },
      skipAwait: false,
    });
    this.role = new k8s.rbac.v1.Role(
      name,
      {
        metadata: meta,
        rules: args.rules.map((r) => ({
          apiGroups: [...(r.apiGroups ?? [""])],
          resources: [...r.resources],
          verbs: [...r.verbs],
          ...(r.resourceNames === undefined ? {} : { resourceNames: [...r.resourceNames] }),
        })),
      },
      parent,
    );
    this.binding = new k8s.rbac.v1.RoleBinding(
      name,
      {
        metadata: meta,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
        subjects: accounts.map((a) =>
          a instanceof k8s.core.v1.ServiceAccount
            ? { kind: "ServiceAccount", name: a.metadata.name, namespace: a.metadata.namespace }
            : { kind: "ServiceAccount", name: a, ...(namespace === undefined ? {} : { namespace }) },
        ),
      },
      parent,
    );
    this.registerOutputs({});
  }
}
