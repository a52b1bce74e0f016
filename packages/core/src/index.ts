export * from "./aws/index.js";
export { DEPENDENCY_CONFIG_PREFIX, dependencyOutputs } from "./dependencies.js";
export { DriftlessError, GuardrailViolationError, ValidationError } from "./errors.js";
export type { TransformInput, TransformMode } from "./internal/stackTransform.js";
export * from "./k8s/index.js";
export * from "./policy/index.js";
export * from "./provenance/index.js";
