export { canonicalJson, isIndexKey, memberOrder, sortedJson, type MemberOrder } from './canonical-json.js';
export { HASH_BYTES, canonicalContent, contentHash, extendChain, genesisHash, linkHash, type CanonicalParts, type ChainHead, type ChainedRecord } from './chain.js';
export {
  anchorProblem,
  checkpointSignatureProblem,
  checkpointSigner,
  checkpointSigningInput,
  keyIdOf,
  trustedKeys,
  type CheckpointKind,
  type CheckpointSigner,
  type CheckpointStatement,
  type SignedCheckpoint,
  type TrustedKeys,
} from './checkpoint.js';
export { DEAD_LETTER_SUFFIX, causalIdsOf, deriveIndex, indexDifferences, traceIdFromHeaders, type RecordContent, type RecordIndex } from './record.js';
export { ChainVerifier, type Problem, type ProblemKind, type VerifiableEntry, type VerificationReport, type VerifierOptions } from './verification.js';
export {
  DATA_KEY_BYTES,
  PII_HEADERS,
  PII_MARKER,
  SEALED_HEADER_PREFIX,
  dataKeyObject,
  decryptBytes,
  encryptBytes,
  isPiiField,
  isSealed,
  newDataKey,
  recordAad,
  revealHeader,
  revealPersonalData,
  sealHeaders,
  sealPersonalData,
  sealRecordPii,
  unwrapDataKey,
  wrapDataKey,
  type DataKey,
  type RevealResult,
} from './pii.js';
export { causalOrder, type CausalNode } from './causal-order.js';
export {
  OCSF_VERSION,
  stableUid,
  toOcsf,
  violationToOcsf,
  type OcsfComplianceFinding,
  type OcsfEvent,
  type OcsfOptions,
  type ResultFacts,
  type SiemEvent,
  type SiemSource,
  type ViolationFacts,
  type ViolationSource,
} from './ocsf.js';
export { formatSiemEvent, toCef, toCefFinding, toEcs, toEcsFinding, type SiemFormat } from './siem-formats.js';
export { accessDuring, carryForward, type AccessGrant, type AppliedState, type CarriedSince } from './access.js';
export { EXPORT_FORMAT, ExportFormatError, ExportVerifier, verifyExport, type ExportLine, type ExportSelection, type OfflineReport } from './export-format.js';
