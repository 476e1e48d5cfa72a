export { ALL_PRINCIPALS, AUDIT_READS, AUDIT_REPLAY_PRINCIPAL, AUDIT_REPLAYS, DEAD_LETTER_DEFAULTS, EXTERNAL_PRINCIPALS, REPLICATION, SERVICE_PRINCIPALS, TARGET_KINDS, TOPICS, type PrincipalName, type Retention, type TopicDefinition } from './catalog.js';
export { aclBindings, bindingsByUser, catalogProblems, describeBinding, maxPartitionsRead, replayableTopics, resolveTopics, retentionMs, userName, type AclBinding, type AclOperation, type PlanOptions, type ResolvedTopic } from './plan.js';
export { applyCatalog, toAclEntry, type ApplyOptions, type ApplyReport } from './apply.js';
export { kafkaTopics, kafkaUsers, resourceName, type StrimziOptions, type StrimziResource } from './strimzi.js';
