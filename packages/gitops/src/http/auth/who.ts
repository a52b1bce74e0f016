/**
 * `by` comes from the identity: what approvals, promotions, rollbacks,
 * suspensions and resumptions record as who asked. A caller may not name
 * someone else, except an admin acting for a person ("on behalf of").
 */
import type { Identity } from "./identity.js";
import { describe } from "./policy.js";

/** Who a record names: the identity, and the person an admin acts for. */
export interface RecordedBy {
  /** What is recorded as `by`: the identity's name. */
  readonly by: string;
  /** The person an admin named in the body's `by`, recorded beside it. */
  readonly onBehalfOf?: string;
}

/**
 * Who to record for a request by `identity` whose body said `given` as `by`.
 * @returns the error message when a non-admin names someone (the caller answers 400)
 */
export function recordedBy(identity: Identity, given: unknown, isAdmin: boolean): RecordedBy | string {
  if (given === undefined || given === null || given === "") return { by: identity.name };
  if (!isAdmin) {
    return `by is taken from who you are (${describe(identity)}); only an admin may name another person, got ${JSON.stringify(given)}`;
  }
  if (typeof given !== "string" || given.trim() === "") {
    return `by must name the person an admin acts for, got ${JSON.stringify(given)}`;
  }
  return { by: identity.name, onBehalfOf: given.trim() };
}
