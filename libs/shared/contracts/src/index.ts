export * from './generated/types.js';
export { SCHEMA_VERSIONS, type SchemaName, type SchemaTypeMap } from './generated/schemas.js';
export { AvroCodec, avroCodec, type DecodedAny } from './avro-codec.js';
export { checkBackwardCompatibility, type CompatibilityProblem } from './compatibility.js';
export { ContractError, ContractErrorCode } from './contract-error.js';
export { crc64Avro, fingerprintBytes } from './fingerprint.js';
export { EventTypes, schemaForEventType } from './event-types.js';
export { ALL_TOPICS_PATTERN, DEAD_LETTER_SUFFIX, Topics, deadLetterTopic, isDeadLetterTopic } from './topics.js';
