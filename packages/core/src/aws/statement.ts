import type * as pulumi from "@pulumi/pulumi";
import { isKnown } from "../internal/inputs.js";
import type { Validator } from "../internal/validator.js";

/** IAM condition block: operator → key → value(s). */
export type Conditions = Readonly<
  Record<string, Readonly<Record<string, pulumi.Input<string> | readonly pulumi.Input<string>[]>>>
>;

/**
 * One IAM policy statement: actions × resources. Built through `allow`/`deny`
 * so {@link ServiceRole} can check it for least privilege.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html
 */
export class Statement {
  readonly effect: "Allow" | "Deny";
  readonly actions: readonly string[];
  readonly resources: readonly pulumi.Input<string>[];
  readonly conditions: Conditions | undefined;

  private constructor(
    effect: "Allow" | "Deny",
    actions: readonly string[],
    resources: readonly pulumi.Input<string>[],
    conditions?: Conditions,
  ) {
    this.effect = effect;
    this.actions = actions;
    this.resources = resources;
    this.conditions = conditions;
  }

  /** Allow `actions` (e.g. `s3:GetObject`, `s3:List*`) on `resources` (ARNs). */
  static allow(
    actions: readonly string[],
    resources: readonly pulumi.Input<string>[],
    conditions?: Conditions,
  ): Statement {
    return new Statement("Allow", actions, resources, conditions);
  }

  /** Deny `actions` on `resources`; denies override any allow. */
  static deny(
    actions: readonly string[],
    resources: readonly pulumi.Input<string>[],
    conditions?: Conditions,
  ): Statement {
    return new Statement("Deny", actions, resources, conditions);
  }

  /**
   * Least-privilege checks: at least one action and resource, actions shaped
   * `service:Action`, and never a wildcard action (`*` or `service:*`) on the
   * wildcard resource `*` in an Allow.
   */
  validate(v: Validator, field: string): void {
    v.check(this.actions.length > 0, `${field}.actions`, "must list at least one action", this.actions);
    v.check(
      this.resources.length > 0,
      `${field}.resources`,
      "must list at least one resource",
      this.resources,
    );
    this.actions.forEach((action, i) => {
      v.check(
        action === "*" || /^[a-z0-9-]+:[A-Za-z0-9*?]+$/.test(action),
        `${field}.actions[${i}]`,
        "must look like `service:Action`",
        action,
      );
    });
    if (this.effect === "Deny") return;
    const anyResource = this.resources.some((r) => isKnown(r) && r === "*");
    const wildcard = this.actions.find((a) => a === "*" || /^[a-z0-9-]+:\*$/.test(a));
    if (anyResource && wildcard !== undefined) {
      v.fail(
        `${field}.actions`,
        "grants a wildcard action on every resource (`*`); name the actions or the resources",
        wildcard,
      );
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      Effect: this.effect,
      Action: [...this.actions],
      Resource: [...this.resources],
      ...(this.conditions === undefined ? {} : { Condition: this.conditions }),
    };
  }
}
