/**
 * Four eyes on approvals: a target with `approval: { distinctFromAuthor: true }`
 * refuses an approval by the author or committer of the held revision
 * (matched by email), or by an identity that asked for the run that made the
 * held plan. Checked by the API and the dashboard, where the approver's
 * identity is known; a program calling `Reconciler.approve` is trusted.
 */
import type { Reconciler } from "../../reconciler.js";
import type { Identity } from "./identity.js";
import { describe } from "./policy.js";

/** Why `identity` may not approve what waits on `name` (a 403), or `undefined`. */
export async function fourEyesRefusal(
  reconciler: Reconciler,
  name: string,
  identity: Identity,
  revision: string | undefined,
): Promise<string | undefined> {
  if (!reconciler.target(name)?.approval.distinctFromAuthor) return undefined;
  const status = await reconciler.status(name);
  const waitingRevisions = [status.awaitingApproval?.revision, status.stalledRevision].filter(
    (r) => r !== undefined,
  );
  const waiting =
    revision === undefined ? waitingRevisions[0] : waitingRevisions.find((r) => r.startsWith(revision));
  // Nothing waits: the approval itself answers 409.
  if (!waiting) return undefined;
  const emails = await reconciler.commitEmails(name, waiting);
  const short = waiting.slice(0, 7);
  if (!emails) {
    return `${name} needs an approver other than the author of ${short} (approval.distinctFromAuthor), and the author of ${short} is not known here`;
  }
  const held = status.awaitingApproval;
  if (held?.revision === waiting && held.requestedBy?.includes(identity.id)) {
    return `${describe(identity)} asked for the run that made this plan of ${short} and may not approve it: ${name} needs another person's approval (approval.distinctFromAuthor)`;
  }
  const email = identity.email?.toLowerCase();
  if (email !== undefined && emails.includes(email)) {
    return `${describe(identity)} wrote ${short} and may not approve it: ${name} needs another person's approval (approval.distinctFromAuthor)`;
  }
  return undefined;
}
