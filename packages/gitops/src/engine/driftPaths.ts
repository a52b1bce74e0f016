// Which properties refresh found changed, and whether a planned step touches
// them: drift is a step that would undo a change made outside the program, so
// a resource whose status fields moved (a Deployment after its rollout) while
// Git changed something else (a label) is a Git change, not drift.

/** Most changed paths kept per resource; past it, the resource counts as changed as a whole. */
const MAX_PATHS = 200;

/**
 * The property paths (engine style: `spec.replicas`, `metadata.labels["a.b/c"]`,
 * `ports[0]`) whose values differ between two states; `undefined` when there
 * are more than {@link MAX_PATHS}. Secret values compare as wholes.
 */
export function changedPaths(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): string[] | undefined {
  const paths: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): boolean => {
    if (a === b) return true;
    const branch = (x: unknown) => x !== null && typeof x === "object" && !isSecret(x);
    if (!branch(a) || !branch(b) || Array.isArray(a) !== Array.isArray(b)) {
      if (JSON.stringify(a) === JSON.stringify(b)) return true;
      paths.push(path);
      return paths.length <= MAX_PATHS;
    }
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      const child = Array.isArray(a) ? `${path}[${key}]` : join(path, key);
      if (!walk(left[key], right[key], child)) return false;
    }
    return true;
  };
  return walk(before ?? {}, after ?? {}, "") ? paths : undefined;
}

/**
 * The property paths that hold a masked secret in both states: the engine
 * reports secrets as `[secret]` (never their values), so whether one changed
 * cannot be told from the states. `undefined` past {@link MAX_PATHS}.
 */
export function maskedSecretPaths(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): string[] | undefined {
  const paths: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): boolean => {
    const objects = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object";
    if (isMasked(a) && isMasked(b)) {
      paths.push(path);
      return paths.length <= MAX_PATHS;
    }
    if (!objects(a) || !objects(b) || isSecret(a) || isSecret(b) || Array.isArray(a) !== Array.isArray(b))
      return true;
    for (const key of Object.keys(a)) {
      if (!(key in b)) continue;
      if (!walk(a[key], b[key], Array.isArray(a) ? `${path}[${key}]` : join(path, key))) return false;
    }
    return true;
  };
  return walk(before ?? {}, after ?? {}, "") ? paths : undefined;
}

/** Whether any of a step's changed paths lies on, above or below a drifted path. */
export function touchesPaths(stepPaths: readonly string[], drifted: readonly string[]): boolean {
  const drift = drifted.map(segments);
  return stepPaths.some((path) => {
    const step = segments(path);
    return drift.some((d) => isPrefix(d, step) || isPrefix(step, d));
  });
}

/** `a.b[0]["c.d"]` → `["a", "b", "0", "c.d"]`. */
export function segments(path: string): string[] {
  const out: string[] = [];
  const pattern = /\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.[\]]+)/g;
  for (const match of path.matchAll(pattern)) {
    out.push(match[1] !== undefined ? JSON.parse(`"${match[1]}"`) : (match[2] ?? match[3] ?? ""));
  }
  return out;
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

function join(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

function isSecret(value: object): boolean {
  return "4dabf18193072939515e22adb298388d" in value;
}

/** A secret as the engine's events show it: `[secret]`, or its secret marker around the blinded `[secret]`. */
function isMasked(value: unknown): boolean {
  if (value === "[secret]") return true;
  if (value === null || typeof value !== "object" || !isSecret(value)) return false;
  const inner = value as Record<string, unknown>;
  return inner.ciphertext === "[secret]" || inner.value === "[secret]";
}
