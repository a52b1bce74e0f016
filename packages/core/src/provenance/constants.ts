/**
 * Environment variables the reconciler sets for the program it runs; the
 * provenance transform reads them. Import these instead of spelling the names.
 */
export const PROVENANCE_ENV = {
  /** Repository URL (credentials are stripped before use). */
  repo: "DRIFTLESS_GIT_REPO",
  /** Full 40-character commit SHA. */
  commit: "DRIFTLESS_GIT_COMMIT",
  /** Path of the program inside the repository. */
  path: "DRIFTLESS_GIT_PATH",
  /** Stack name; falls back to `pulumi.getStack()`. */
  stack: "DRIFTLESS_STACK",
} as const;

/** Kubernetes label keys (values sanitised to label rules). */
export const PROVENANCE_LABELS = {
  commit: "driftless.dev/commit",
  stack: "driftless.dev/stack",
  path: "driftless.dev/path",
} as const;

/** Kubernetes annotation keys (values verbatim, except credentials stripped from the repo URL). */
export const PROVENANCE_ANNOTATIONS = {
  repo: "driftless.dev/repo",
  commit: "driftless.dev/commit",
  path: "driftless.dev/path",
} as const;

/** AWS tag keys. */
export const PROVENANCE_TAGS = {
  repo: "driftless:repo",
  commit: "driftless:commit",
  path: "driftless:path",
  stack: "driftless:stack",
} as const;
