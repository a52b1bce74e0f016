export {
  AWS_RESERVED_ADDRESSES,
  allocate,
  blockSize,
  type Cidr,
  CidrError,
  cidrProblem,
  contains,
  findOverlap,
  formatCidr,
  overlaps,
  parseCidr,
  planSubnets,
  type SubnetPlan,
  type SubnetPlanOptions,
  usableAddresses,
} from "../internal/cidr.js";
export { Bucket, type BucketArgs, type WebsiteArgs } from "./bucket.js";
export type { LifecycleRuleArgs, StorageClass } from "./bucketLifecycle.js";
export { Database, type DatabaseArgs, type DatabaseSources } from "./database.js";
export { derivePassword } from "./databasePassword.js";
export type { FlowLogArgs } from "./flowLogs.js";
export { type NatMode, Network, type NetworkArgs } from "./network.js";
export { IRSA_ANNOTATION, ServiceRole, type ServiceRoleArgs } from "./serviceRole.js";
export { type Conditions, Statement } from "./statement.js";
export { Trust } from "./trust.js";
