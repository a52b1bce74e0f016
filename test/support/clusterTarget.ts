// The target every end-to-end test on the lifelike cluster starts from: a
// program on the main branch of a test repository, reconciled with upstream's
// Kubernetes provider (found offline on the cluster's PATH) onto the cluster.
import type { TargetSpec } from "@driftless/gitops";
import type { TestCluster } from "./cluster.js";
import type { EngineSandbox } from "./engine.js";
import type { TestRepo } from "./git.js";
import { TEST_NODE_PATH } from "./sitePrograms.js";

/** The parts a cluster target is made of. */
export interface ClusterTargetParts {
  readonly repo: TestRepo;
  readonly cluster: TestCluster;
  readonly sandbox: EngineSandbox;
}

/**
 * A target named `name` for the program in `parts.repo`, stack `dev`, on the
 * cluster (its kubeconfig as the program's `kubeconfig` config); checks hourly
 * so only the test starts runs, and a run gives up after 5 minutes.
 */
export function clusterTarget(
  name: string,
  { repo, cluster, sandbox }: ClusterTargetParts,
  overrides: Partial<TargetSpec> = {},
): TargetSpec {
  return {
    name,
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { kubeconfig: cluster.kubeconfigPath },
    // PATH: the engine finds the provider plugin there, offline.
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH, PATH: cluster.path },
    interval: "1h",
    resync: "1h",
    timeout: "5m",
    ...overrides,
  };
}
