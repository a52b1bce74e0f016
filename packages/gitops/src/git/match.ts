/**
 * Which changes concern a target: a pushed ref against the ref it follows, the
 * changed files against its directory. Shared by push webhooks, pull request
 * previews and dependency pipelines.
 */

/** Whether a pushed ref (`refs/heads/main`) is the ref a target follows (`main`, `refs/heads/main`, `refs/tags/v1`). */
export function refMatches(targetRef: string, pushedRef: string): boolean {
  return (
    targetRef === pushedRef ||
    `refs/heads/${targetRef}` === pushedRef ||
    `refs/tags/${targetRef}` === pushedRef
  );
}

/**
 * Whether any changed file lies in a target's directory. A target at `.` (the
 * repository root) matches any change; an unknown change list matches everything.
 */
export function pathMatches(targetPath: string, changed: readonly string[] | undefined): boolean {
  if (changed === undefined) return true;
  const dir = targetPath.replace(/^\.\//, "").replace(/\/+$/, "");
  if (dir === "" || dir === ".") return changed.length > 0;
  return changed.some((file) => {
    const path = file.replace(/^\.?\//, "");
    return path === dir || path.startsWith(`${dir}/`);
  });
}
