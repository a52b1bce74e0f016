// A lifelike stack state for the inventory benchmark: the checkpoint a
// `file://` backend keeps (`.pulumi/stacks/<project>/<stack>.json`, what
// engine/fileBackend.ts reads) for a platform stack of `count` resources —
// Namespaces, WebServices with their ConfigBundles, and S3 Buckets with their
// settings — each with the inputs and outputs the upstream providers record.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { application } from "./app.js";
import { bucket, namespace } from "./platform.js";
import {
  AWS_PROVIDER,
  type CheckpointResource,
  hex,
  K8S_PROVIDER,
  PROJECT,
  STACK,
  STACK_URN,
  StateBuilder,
  secret,
  T0,
  uid,
} from "./state.js";

export { PROJECT, STACK } from "./state.js";

/** The checkpoint's resources, parents before children, as the engine writes them. */
export function stateResources(count: number): CheckpointResource[] {
  const state = new StateBuilder(count);
  // The stack, its exports and the two explicit providers.
  state.add({ urn: STACK_URN, custom: false, type: "pulumi:pulumi:Stack", outputs: { region: "eu-west-1" } });
  const kubeconfig = secret("kubeconfig");
  state.add({
    urn: K8S_PROVIDER,
    custom: true,
    parent: STACK_URN,
    id: uid(K8S_PROVIDER),
    type: "pulumi:providers:kubernetes",
    inputs: { enableServerSideApply: "true", kubeconfig, version: "4.18.3" },
    outputs: { enableServerSideApply: "true", kubeconfig, version: "4.18.3" },
  });
  state.add({
    urn: AWS_PROVIDER,
    custom: true,
    parent: STACK_URN,
    id: uid(AWS_PROVIDER),
    type: "pulumi:providers:aws",
    inputs: { region: "eu-west-1", skipCredentialsValidation: "false", version: "6.66.0" },
    outputs: { region: "eu-west-1", skipCredentialsValidation: "false", version: "6.66.0" },
  });
  const namespaces = Array.from({ length: 8 }, (_, i) => `team-${i}`);
  const commit = (i: number) => state.commits[i % state.commits.length] as string;
  for (const [i, ns] of namespaces.entries()) namespace(state, ns, commit(i));
  // S3 buckets with their settings: about an eighth of the stack.
  for (let b = 0; b < Math.max(1, Math.round(state.count / 50)); b++) bucket(state, b, commit(b * 5));
  // Applications fill the rest.
  for (let a = 0; !state.full; a++)
    application(state, a, namespaces[a % namespaces.length] as string, commit(a));
  return state.resources;
}

/**
 * Writes the checkpoint under `backendDir` as the `file://` backend keeps it,
 * and a Pulumi.yaml naming the project in `workDir`; returns its size in bytes.
 */
export function writeCheckpoint(backendDir: string, workDir: string, count: number): number {
  const dir = join(backendDir, ".pulumi", "stacks", PROJECT);
  mkdirSync(dir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
  const checkpoint = {
    version: 3,
    checkpoint: {
      stack: `organization/${PROJECT}/${STACK}`,
      latest: {
        manifest: { time: T0, magic: hex("magic", 64), version: "v3.259.0" },
        secrets_providers: {
          type: "passphrase",
          state: { salt: `v1:${hex("salt", 12)}:v1:${hex("salt2", 16)}:${hex("salt3", 32)}` },
        },
        resources: stateResources(count),
        metadata: {},
      },
    },
  };
  // Pulumi indents its checkpoints with four spaces.
  const text = `${JSON.stringify(checkpoint, null, 4)}\n`;
  writeFileSync(join(dir, `${STACK}.json`), text);
  return Buffer.byteLength(text);
}
