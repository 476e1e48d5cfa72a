export { ALL_SCOPES, DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } from './dev-auth.js';
export { generateTlsMaterial, startSecureKafka, type SecureKafka, type SecureKafkaOptions, type TlsMaterial } from './kafka-secure.js';
export { DEFAULT_KAFKA_VERSION, brokerAnswers, ensureKafka, fetchKafka, javaMajorVersion, stopKafka, type KafkaStackOptions, type LocalKafka } from './kafka.js';
export { dataDir, projectRoot } from './paths.js';
export { DEFAULT_DATABASE, ensureDatabase, ensurePostgres, postgresAnswers, stopEmbeddedPostgres, type LocalPostgres } from './postgres.js';
export { PrerequisiteError, commandExists, isAlive, portOpen, run, spawnDetached, stopPid, waitUntil } from './process-utils.js';
export { SERVICES, serviceEnv, type ServiceSpec, type StackEndpoints } from './services.js';
export { stackDown, stackUp, type Stack } from './stack.js';
export { TestEnv, requireEnv } from './test-env.js';
