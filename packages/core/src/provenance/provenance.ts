import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { DriftlessError } from "../errors.js";
import { isRecord } from "../internal/inputs.js";
import { stripCredentials, toLabelValue, toTagValue } from "../internal/sanitize.js";
import {
  registerPropsTransform,
  type TransformInput,
  type TransformMode,
} from "../internal/stackTransform.js";
import { AWS_TAGGABLE_TYPES } from "./awsTaggableTypes.js";
import { PROVENANCE_ANNOTATIONS, PROVENANCE_ENV, PROVENANCE_LABELS, PROVENANCE_TAGS } from "./constants.js";

/** Where the desired state came from. Missing fields are simply not stamped. */
export interface Provenance {
  /** Repository URL with credentials stripped. */
  readonly repo?: string;
  /** Full 40-character commit SHA, lower case. */
  readonly commit?: string;
  /** Path of the program inside the repository. */
  readonly path?: string;
  /** Stack name. */
  readonly stack: string;
}

/** Inputs of {@link enableProvenance}; every field overrides its environment variable. */
export interface ProvenanceOptions {
  /**
   * Repository URL; credentials in it are stripped.
   * @default - `process.env.DRIFTLESS_GIT_REPO`
   */
  readonly repo?: string;
  /**
   * Full 40-character commit SHA.
   * @default - `process.env.DRIFTLESS_GIT_COMMIT`
   */
  readonly commit?: string;
  /**
   * Path of the program inside the repository.
   * @default - `process.env.DRIFTLESS_GIT_PATH`
   */
  readonly path?: string;
  /**
   * Stack name.
   * @default - `process.env.DRIFTLESS_STACK`, else `pulumi.getStack()`
   */
  readonly stack?: string;
  /**
   * Environment to read the variables from (tests pass a plain object).
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Without the reconciler (no commit given or in the environment), read the
   * commit, the `origin` URL and the program's path from the Git checkout
   * around `cwd`; `false` to never ask Git. When there is no checkout, a
   * warning is logged once and the commit is left out.
   * @default { cwd: process.cwd() }
   */
  readonly git?: false | { readonly cwd?: string };
  /**
   * Where the one warning about a missing checkout goes.
   * @default pulumi.log.warn
   */
  readonly warn?: (message: string) => void;
}

/**
 * Resolves provenance from explicit options, then the `DRIFTLESS_*`
 * environment variables, then `pulumi.getStack()` for the stack.
 * @throws DriftlessError when the commit is not a full 40-hex SHA.
 */
export function resolveProvenance(options: ProvenanceOptions = {}): Provenance {
  const env = options.env ?? process.env;
  const pick = (explicit: string | undefined, variable: string): string | undefined => {
    const value = (explicit ?? env[variable])?.trim();
    return value === "" ? undefined : value;
  };
  let repo = pick(options.repo, PROVENANCE_ENV.repo);
  let commit = pick(options.commit, PROVENANCE_ENV.commit)?.toLowerCase();
  let path = pick(options.path, PROVENANCE_ENV.path);
  if (commit === undefined && options.git !== false) {
    const local = readCheckout(options.git?.cwd ?? process.cwd());
    if (local === undefined) {
      warnOnce(
        options.warn ?? ((m) => pulumi.log.warn(m)),
        `enableProvenance: no commit to stamp: ${PROVENANCE_ENV.commit} is not set (the reconciler sets it) ` +
          `and ${options.git?.cwd ?? process.cwd()} is not inside a Git checkout; resources carry no commit`,
      );
    } else {
      commit = local.commit;
      repo ??= local.repo;
      path ??= local.path;
    }
  }
  const stack = pick(options.stack, PROVENANCE_ENV.stack) ?? pulumi.getStack();
  if (commit !== undefined && !/^[0-9a-f]{40}$/.test(commit)) {
    throw new DriftlessError(
      `enableProvenance: \`commit\` (or ${PROVENANCE_ENV.commit}) must be a full 40-hex-digit SHA, got ${JSON.stringify(commit)}`,
    );
  }
  return {
    ...(repo === undefined ? {} : { repo: stripCredentials(repo) }),
    ...(commit === undefined ? {} : { commit }),
    ...(path === undefined ? {} : { path }),
    stack,
  };
}

let warned = false;

function warnOnce(warn: (message: string) => void, message: string): void {
  if (warned) return;
  warned = true;
  warn(message);
}

/** Commit, `origin` URL and path of `cwd` inside its Git checkout; `undefined` outside one (or without git). */
function readCheckout(cwd: string): { commit: string; repo?: string; path?: string } | undefined {
  const git = (...args: string[]): string | undefined => {
    try {
      return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git("rev-parse", "--verify", "HEAD")?.toLowerCase();
  if (commit === undefined || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const repo = git("config", "--get", "remote.origin.url") || undefined;
  const prefix = git("rev-parse", "--show-prefix")?.replace(/\/$/, "");
  return {
    commit,
    ...(repo === undefined ? {} : { repo }),
    ...(prefix ? { path: prefix } : {}),
  };
}

/** Kubernetes labels for `p`, sanitised to label-value rules. */
export function provenanceLabels(p: Provenance): Record<string, string> {
  const labels: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    const clean = value === undefined ? undefined : toLabelValue(value);
    if (clean !== undefined) labels[key] = clean;
  };
  set(PROVENANCE_LABELS.commit, p.commit);
  set(PROVENANCE_LABELS.stack, p.stack);
  set(PROVENANCE_LABELS.path, p.path);
  return labels;
}

/** Kubernetes annotations for `p` (values need no sanitising). */
export function provenanceAnnotations(p: Provenance): Record<string, string> {
  return withoutUndefined({
    [PROVENANCE_ANNOTATIONS.repo]: p.repo,
    [PROVENANCE_ANNOTATIONS.commit]: p.commit,
    [PROVENANCE_ANNOTATIONS.path]: p.path,
  });
}

/** AWS tags for `p`, sanitised to tag-value rules. */
export function provenanceTags(p: Provenance): Record<string, string> {
  const tags = withoutUndefined({
    [PROVENANCE_TAGS.repo]: p.repo,
    [PROVENANCE_TAGS.commit]: p.commit,
    [PROVENANCE_TAGS.path]: p.path,
    [PROVENANCE_TAGS.stack]: p.stack,
  });
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, toTagValue(v)]));
}

function withoutUndefined(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => e[1] !== undefined));
}

// Kubernetes types that are not objects with `metadata`: Helm releases, YAML and
// kustomize groups (their children are stamped one by one), and `List` kinds.
const K8S_NOT_AN_OBJECT = /^kubernetes:(helm\.sh|yaml|kustomize)|List$/;

/**
 * Returns `props` with provenance stamped in, or `undefined` when the resource
 * is neither a Kubernetes object nor a taggable AWS resource. Pure, so both
 * transform modes and tests share it.
 *
 * Only the object's own `metadata` is stamped, never a pod template: a label
 * that changes with every commit would otherwise roll every pod on every commit.
 */
export function stampProvenance(resource: TransformInput, p: Provenance): pulumi.Inputs | undefined {
  if (!resource.custom) return undefined;
  const { type, props } = resource;
  if (type.startsWith("kubernetes:") && !K8S_NOT_AN_OBJECT.test(type)) {
    const labels = provenanceLabels(p);
    const annotations = provenanceAnnotations(p);
    return {
      ...props,
      metadata: mergeInput(props.metadata, (meta) => ({
        ...meta,
        labels: { ...asRecord(meta.labels), ...labels },
        annotations: { ...asRecord(meta.annotations), ...annotations },
      })),
    };
  }
  if (type.startsWith("aws:") && (AWS_TAGGABLE_TYPES.has(type) || "tags" in props)) {
    const tags = provenanceTags(p);
    return { ...props, tags: mergeInput(props.tags, (existing) => ({ ...existing, ...tags })) };
  }
  return undefined;
}

/**
 * Applies `merge` to an object input: synchronously when the value is a plain
 * object (or absent), through `apply` when it is still an Output or a Promise.
 */
function mergeInput(
  value: unknown,
  merge: (existing: Record<string, unknown>) => Record<string, unknown>,
): pulumi.Input<Record<string, unknown>> {
  if (value === undefined || value === null) return merge({});
  if (isRecord(value)) return merge(value);
  return pulumi.output(value as pulumi.Input<Record<string, unknown>>).apply((v) => merge(v ?? {}));
}

function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/**
 * Stamps every Kubernetes object's labels/annotations and every taggable AWS
 * resource's tags with the Git repository, commit, path and stack, for all
 * resources declared after this call. Call it once, first thing in the program.
 *
 * @returns the provenance that will be stamped and how the transform was installed.
 * @see https://www.pulumi.com/docs/iac/concepts/options/transforms/
 */
export function enableProvenance(options: ProvenanceOptions = {}): {
  readonly provenance: Provenance;
  readonly mode: TransformMode;
} {
  const provenance = resolveProvenance(options);
  const mode = registerPropsTransform((resource) => stampProvenance(resource, provenance));
  return { provenance, mode };
}
