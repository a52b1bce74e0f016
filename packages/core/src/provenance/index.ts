export { stripCredentials, toLabelValue, toTagValue } from "../internal/sanitize.js";
export { AWS_TAGGABLE_TYPES } from "./awsTaggableTypes.js";
export { PROVENANCE_ANNOTATIONS, PROVENANCE_ENV, PROVENANCE_LABELS, PROVENANCE_TAGS } from "./constants.js";
export {
  enableProvenance,
  type Provenance,
  type ProvenanceOptions,
  provenanceAnnotations,
  provenanceLabels,
  provenanceTags,
  resolveProvenance,
  stampProvenance,
} from "./provenance.js";
