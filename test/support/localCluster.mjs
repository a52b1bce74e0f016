// Keeps the lifelike local cluster of `cluster.ts` up for trying the
// kubernetes-app example by hand: `node test/support/localCluster.mjs` (Node
// >= 23.6 loads the TypeScript module as it is). Ctrl-C stops it and cleans up.
import { K8S_BIN_DIR, NODE_NAME, startCluster } from "./cluster.ts";

const cluster = await startCluster();
console.log(
  `cluster ${cluster.server} is ready (Node ${NODE_NAME}); Ctrl-C stops it and removes ${cluster.dir}`,
);
console.log(`KUBECONFIG=${cluster.kubeconfigPath}`);
console.log(`PATH=${K8S_BIN_DIR}:$PATH  # the Kubernetes provider plugin for the engine`);
const shutdown = () => void cluster.stop().then(() => process.exit(0));
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
setInterval(() => {}, 1 << 30);
