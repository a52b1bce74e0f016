// The package root loads no optional peer: `@pulumi/aws` and
// `@pulumi/kubernetes` are needed only by the components, which live behind
// the `./aws` and `./k8s` subpaths. A Kubernetes-only project must be able to
// import the root without `@pulumi/aws` installed (and the other way round).
export { DEPENDENCY_CONFIG_PREFIX, dependencyOutputs } from "./dependencies.js";
export {
  DriftlessError,
  GuardrailViolationError,
  ValidationError,
  type ValidationProblem,
} from "./errors.js";
export type { TransformInput, TransformMode } from "./internal/stackTransform.js";
export * from "./policy/index.js";
export * from "./provenance/index.js";
