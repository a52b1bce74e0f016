/**
 * What the engine is given for a target's stack: working directory, backend,
 * environment (provenance, passphrase), config with dependency outputs and
 * secret config; and the secrets a run's log must never show.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { backendEnvPatterns, inheritedEnv } from "../engine/env.js";
import type { StackRequest } from "../engine/types.js";
import { publicRepoUrl, type Redactor, readSecret } from "../spec/secrets.js";
import type { ResolvedTarget } from "../spec/spec.js";

/** Config key prefix of dependency outputs (read by `dependencyOutputs` of `@driftless/core`). */
export const DEPENDENCY_CONFIG_PREFIX = "deps";

/** Environment variables the reconciler sets for every program (read by `@driftless/core` provenance). */
export const PROVENANCE_ENV = {
  repo: "DRIFTLESS_GIT_REPO",
  commit: "DRIFTLESS_GIT_COMMIT",
  path: "DRIFTLESS_GIT_PATH",
  stack: "DRIFTLESS_STACK",
} as const;

/**
 * Upstream's Kubernetes provider treats any change of a Secret's `data`,
 * `stringData` or `type` as a replacement unless Secrets are mutable
 * (`enableSecretMutable`, default off; pulumi-kubernetes#1772). A hand edit of
 * a Secret the program declares would then plan a replace, which for a fixed
 * name is a delete and create at best. Reconciled programs get mutable
 * Secrets, updated in place (not `immutable: true` ones, nor a change of
 * `type`), unless the target's `env` says otherwise or the program's provider
 * sets `enableSecretMutable` itself.
 */
export const KUBERNETES_SECRETS_MUTABLE = { PULUMI_K8S_ENABLE_SECRET_MUTABLE: "true" } as const;

/** Where the engine request's environment comes from besides the target. */
export interface StackRequestContext {
  /** The store's own state backend, whose password reaches the engine through the environment. */
  readonly stateBackend?: { readonly url: string; readonly env: Readonly<Record<string, string>> };
  /** The reconciler's `inheritEnv`. */
  readonly inheritEnv?: readonly string[];
  /**
   * The reconciler's data directory: each target's Node programs keep V8's
   * compile cache under it ({@link compileCacheDir}).
   */
  readonly dataDir?: string;
}

/**
 * Where a target's Node programs keep V8's compile cache (`NODE_COMPILE_CACHE`,
 * Node 22.1 and newer; older ones ignore it): the SDKs a program loads
 * (`@pulumi/pulumi`, `@pulumi/kubernetes`) compile once per target instead of
 * once per engine run, which takes about half a second off each run's start.
 * One directory per target, removed with the target's stack.
 */
export function compileCacheDir(dataDir: string, target: string): string {
  return join(dataDir, "cache", "node-compile", target);
}

/**
 * The directory under the data directory that holds each run's temporary
 * directory ({@link runTempDir}); what a process that stopped without cleaning
 * up left there is removed when the next reconciler on the data directory is
 * created.
 */
export function runTempRoot(dataDir: string): string {
  return join(dataDir, "tmp");
}

/**
 * A temporary directory of the run's own, the `TMPDIR` of its engine, program
 * and providers, removed when the run ends: what they write there and forget
 * goes with it (upstream's Kubernetes provider writes the kubeconfig it was
 * given, credentials included, to a new file under `TMPDIR` each time it
 * starts, and never removes it). A target whose `env` sets `TMPDIR` keeps its
 * own, and gets none.
 * @returns the variables to add to the request's environment, and the
 *   function that removes the directory
 */
export async function runTempDir(
  dataDir: string,
  target: ResolvedTarget,
  runId: string,
): Promise<{ env: Record<string, string>; remove: () => Promise<void> }> {
  if (target.env.TMPDIR !== undefined) return { env: {}, remove: async () => undefined };
  const root = runTempRoot(dataDir);
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, `${runId.slice(0, 8)}-`));
  return { env: { TMPDIR: dir }, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The engine request for a target at a revision, with the dependency outputs as config. */
export function stackRequestFor(
  target: ResolvedTarget,
  revision: string | undefined,
  workDir: string,
  deps: Readonly<Record<string, string>>,
  context: StackRequestContext = {},
): StackRequest {
  const { stateBackend, inheritEnv = [], dataDir } = context;
  const secretConfig = Object.fromEntries(
    Object.entries(target.secretConfig).map(([k, v]) => [k, readSecret(v, `secretConfig.${k}`)]),
  );
  return {
    workDir,
    stack: target.stack,
    ...(target.program ? { program: target.program } : {}),
    ...(target.projectName ? { projectName: target.projectName } : {}),
    backend: target.backend,
    secretsProvider: target.secretsProvider,
    env: {
      // The engine starts with a minimal environment (runPulumi); these are the target's additions.
      ...inheritedFor(target, inheritEnv),
      // TypeScript programs are transpiled without a type check (several times
      // faster to start); type errors belong in CI and plan-on-PR, and a
      // target can turn checking back on with this variable in its `env`.
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      // The Kubernetes provider replaces a Secret whose data changed unless
      // Secrets are mutable; a replacement of a fixed-name Secret deletes it
      // for a moment at best (see KUBERNETES_SECRETS_MUTABLE).
      ...KUBERNETES_SECRETS_MUTABLE,
      ...(dataDir ? { NODE_COMPILE_CACHE: compileCacheDir(dataDir, target.name) } : {}),
      ...target.env,
      // The store's password reaches a backend in the store's database through the environment, never its URL.
      ...(stateBackend && target.backend === stateBackend.url ? stateBackend.env : {}),
      PULUMI_CONFIG_PASSPHRASE: readSecret(target.passphrase, "passphrase"),
      [PROVENANCE_ENV.repo]: publicRepoUrl(target.repo),
      [PROVENANCE_ENV.path]: target.path,
      [PROVENANCE_ENV.stack]: target.stack,
      ...(revision ? { [PROVENANCE_ENV.commit]: revision } : {}),
    },
    // The target's own config wins over a dependency's output of the same key.
    config: { ...deps, ...target.config },
    secretConfig,
  };
}

/**
 * The variables of this process a target's engine and installer receive on top
 * of their allowlist: what its backend and secrets provider need (`s3://` →
 * `AWS_*`), and what the reconciler's and the target's `inheritEnv` name.
 */
export function inheritedFor(
  target: ResolvedTarget,
  inheritEnv: readonly string[],
  allowlist: readonly string[] = [],
): Record<string, string> {
  return inheritedEnv([
    ...allowlist,
    ...backendEnvPatterns(target.backend, target.secretsProvider),
    ...inheritEnv,
    ...target.inheritEnv,
  ]);
}

/** Adds every secret of a target (secret config, Git token, SSH key, passphrase) to a redactor. */
export function collectSecrets(target: ResolvedTarget, redactor: Redactor): void {
  for (const [key, source] of Object.entries(target.secretConfig))
    redactor.add(readSecret(source, `secretConfig.${key}`));
  if (target.auth.token) redactor.add(readSecret(target.auth.token, "auth.token"));
  if (target.auth.sshKey) redactor.add(readSecret(target.auth.sshKey, "auth.sshKey"));
  redactor.add(readSecret(target.passphrase, "passphrase"));
}
