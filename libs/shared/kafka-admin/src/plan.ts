import { deadLetterTopic } from '@provisio/contracts';
import {
  ALL_PRINCIPALS,
  AUDIT_READS,
  AUDIT_REPLAY_PRINCIPAL,
  DEAD_LETTER_DEFAULTS,
  REPLICATION,
  TOPICS,
  TRANSACTIONAL_ID_PREFIXES,
  type PrincipalName,
  type Retention,
  type TopicDefinition,
} from './catalog.js';

/** How one installation names things: several stacks may share a cluster (KAFKA_TOPIC_PREFIX). */
export interface PlanOptions {
  /** Prefix of every topic and consumer group (the services' KAFKA_TOPIC_PREFIX). */
  topicPrefix?: string;
  /** Prefix of the SCRAM user names: `<userPrefix><principal>`, default `provisio-`. */
  userPrefix?: string;
  /** Replicas of every topic (default 3); min.insync.replicas follows, never above replicas − 1 (at least 1). */
  replicationFactor?: number;
  /** Catalog to plan from (tests pass their own). */
  topics?: TopicDefinition[];
}

export interface ResolvedTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
  /** For a dead-letter topic: the topic whose failures it holds. */
  deadLetterOf?: string;
}

export type AclResource = 'topic' | 'group' | 'cluster' | 'transactionalId';
export type AclPattern = 'literal' | 'prefix';
export type AclOperation = 'Read' | 'Write' | 'Describe' | 'IdempotentWrite';

/** One allow rule, in the vocabulary of Strimzi's KafkaUser (the admin command maps it to the protocol). */
export interface AclBinding {
  /** SCRAM user name; the Kafka principal is `User:<user>`. */
  user: string;
  resourceType: AclResource;
  /** `kafka-cluster` for the cluster resource. */
  resourceName: string;
  patternType: AclPattern;
  operation: AclOperation;
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export function retentionMs(r: Retention): string {
  if (r === 'forever') return '-1';
  const m = /^(\d+)([hd])$/.exec(r);
  if (!m) throw new Error(`retention '${r}': expected <n>h, <n>d or forever`);
  return String(Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 86_400_000));
}

export function userName(principal: PrincipalName, o: PlanOptions = {}): string {
  return `${o.userPrefix ?? 'provisio-'}${principal}`;
}

/** Every problem of a catalog, each naming the topic or principal and the rule it breaks. */
export function catalogProblems(topics: TopicDefinition[] = TOPICS): string[] {
  const problems: string[] = [];
  const known = new Set<string>(ALL_PRINCIPALS);
  const seen = new Set<string>();
  for (const t of topics) {
    const names = t.deadLetter ? [t.name, deadLetterTopic(t.name)] : [t.name];
    for (const n of names) {
      if (!LEGAL_TOPIC.test(n)) problems.push(`topic '${n}': name must be 1-249 of [a-zA-Z0-9._-]`);
      if (seen.has(n)) problems.push(`topic '${n}': defined twice`);
      seen.add(n);
    }
    if (!Number.isInteger(t.partitions) || t.partitions < 1) problems.push(`topic '${t.name}': partitions ${t.partitions} must be a positive integer`);
    try {
      retentionMs(t.retention);
    } catch (e) {
      problems.push(`topic '${t.name}': ${(e as Error).message}`);
    }
    for (const p of [...t.writers, ...t.readers]) if (!known.has(p)) problems.push(`topic '${t.name}': unknown principal '${p}'`);
    if (t.writers.length === 0) problems.push(`topic '${t.name}': has no writer`);
    const audited = AUDIT_READS.some((f) => t.name.startsWith(f));
    if (audited && t.readers.includes('audit')) problems.push(`topic '${t.name}': audit reads by family (AUDIT_READS), do not list it as a reader`);
    // Outside its families audit may read only what it writes itself (its verification reads its output back).
    if (!audited && t.readers.includes('audit') && !t.writers.includes('audit')) problems.push(`topic '${t.name}': audit may read back only its own output outside ${AUDIT_READS.join(', ')}`);
    if (t.cleanup === 'compact' && t.retention !== 'forever') problems.push(`topic '${t.name}': a compacted topic keeps the latest record per key; use retention 'forever'`);
    if (!audited && !t.writers.every((w) => w === 'audit')) problems.push(`topic '${t.name}': audit must record it; name it under one of ${AUDIT_READS.join(', ')}`);
  }
  return problems;
}

function topicConfig(t: { retention: Retention; cleanup?: 'delete' | 'compact'; config?: Record<string, string> }, replicas: number): Record<string, string> {
  return {
    'cleanup.policy': t.cleanup ?? 'delete',
    'retention.ms': retentionMs(t.retention),
    'min.insync.replicas': String(Math.max(1, Math.min(REPLICATION.minInSyncReplicas, replicas - 1))),
    ...t.config,
  };
}

/** Every topic with its dead-letter topic, named for this installation. */
export function resolveTopics(o: PlanOptions = {}): ResolvedTopic[] {
  const topics = o.topics ?? TOPICS;
  const problems = catalogProblems(topics);
  if (problems.length > 0) throw new Error(`invalid Kafka catalog:\n  - ${problems.join('\n  - ')}`);
  const prefix = o.topicPrefix ?? '';
  const rf = o.replicationFactor ?? REPLICATION.replicas;
  if (!Number.isInteger(rf) || rf < 1) throw new Error(`replication factor ${rf}: must be a positive integer`);
  return topics.flatMap((t) => {
    const main: ResolvedTopic = { name: prefix + t.name, partitions: t.partitions, replicationFactor: rf, config: topicConfig(t, rf) };
    if (!t.deadLetter) return [main];
    const dlt: ResolvedTopic = {
      name: prefix + deadLetterTopic(t.name),
      partitions: Math.min(DEAD_LETTER_DEFAULTS.partitions, t.partitions),
      replicationFactor: rf,
      config: topicConfig({ retention: DEAD_LETTER_DEFAULTS.retention }, rf),
      deadLetterOf: prefix + t.name,
    };
    return [main, dlt];
  });
}

/** The partitions a consumer group of `principal` can use: KEDA's replica cap. */
export function maxPartitionsRead(principal: PrincipalName, topics: TopicDefinition[] = TOPICS): number {
  const read = principal === 'audit' ? topics.filter((t) => AUDIT_READS.some((f) => t.name.startsWith(f))) : topics.filter((t) => t.readers.includes(principal));
  return Math.max(0, ...read.map((t) => t.partitions));
}

/**
 * Least-privilege ACLs of every principal. A service may: write the topics it produces; read
 * the topics it consumes and write their dead letters; see (Describe) the dead-letter topics of
 * what it produces, because it checks at start that they exist; use consumer groups named after
 * itself; use the idempotent producer. Audit reads every topic of its families and writes only
 * its own output topics (it never dead-letters: its failures are retried in place). Audit's
 * replay principal may only write the audited topics that have dead letters, to put a record back
 * where it failed. Nobody may create, delete or reconfigure topics: that is the admin command's
 * (or Strimzi's) job.
 */
export function aclBindings(o: PlanOptions = {}): AclBinding[] {
  const topics = o.topics ?? TOPICS;
  const problems = catalogProblems(topics);
  if (problems.length > 0) throw new Error(`invalid Kafka catalog:\n  - ${problems.join('\n  - ')}`);
  const prefix = o.topicPrefix ?? '';
  const out: AclBinding[] = [];
  for (const principal of ALL_PRINCIPALS) {
    const user = userName(principal, o);
    const mine: AclBinding[] = [];
    const topic = (name: string, operation: AclOperation, patternType: AclPattern = 'literal') =>
      mine.push({ user, resourceType: 'topic', resourceName: prefix + name, patternType, operation });
    let consumes = false;
    for (const t of topics) {
      if (t.writers.includes(principal)) {
        topic(t.name, 'Write');
        if (t.deadLetter) topic(deadLetterTopic(t.name), 'Describe');
      }
      if (t.readers.includes(principal)) {
        consumes = true;
        topic(t.name, 'Read');
        if (t.deadLetter) topic(deadLetterTopic(t.name), 'Write');
      }
    }
    if (principal === 'audit') {
      consumes = true;
      for (const family of AUDIT_READS) topic(family, 'Read', 'prefix');
    }
    if (principal === AUDIT_REPLAY_PRINCIPAL) {
      for (const t of replayableTopics(topics)) topic(t.name, 'Write');
    }
    if (consumes) mine.push({ user, resourceType: 'group', resourceName: prefix + principal, patternType: 'prefix', operation: 'Read' });
    if (mine.some((b) => b.operation === 'Write')) mine.push({ user, resourceType: 'cluster', resourceName: 'kafka-cluster', patternType: 'literal', operation: 'IdempotentWrite' });
    const txn = TRANSACTIONAL_ID_PREFIXES[principal];
    if (txn !== undefined) {
      for (const operation of ['Write', 'Describe'] as const) mine.push({ user, resourceType: 'transactionalId', resourceName: prefix + txn, patternType: 'prefix', operation });
    }
    out.push(...dedupe(mine));
  }
  return out;
}

/** The topics a dead letter can be replayed to: audited topics that have a dead-letter topic. */
export function replayableTopics(topics: TopicDefinition[] = TOPICS): TopicDefinition[] {
  return topics.filter((t) => t.deadLetter && AUDIT_READS.some((f) => t.name.startsWith(f)));
}

const key = (b: AclBinding) => `${b.user}|${b.resourceType}|${b.patternType}|${b.resourceName}`;

// Read and Write imply Describe in Kafka's authorizer: keep the rules minimal and unique.
function dedupe(bindings: AclBinding[]): AclBinding[] {
  const byResource = new Map<string, Set<AclOperation>>();
  for (const b of bindings) byResource.set(key(b), (byResource.get(key(b)) ?? new Set()).add(b.operation));
  const seen = new Set<string>();
  return bindings.filter((b) => {
    const ops = byResource.get(key(b))!;
    if (b.operation === 'Describe' && (ops.has('Read') || ops.has('Write'))) return false;
    const k = `${key(b)}|${b.operation}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Bindings grouped by user, for display and for KafkaUser resources. */
export function bindingsByUser(bindings: AclBinding[]): Map<string, AclBinding[]> {
  const m = new Map<string, AclBinding[]>();
  for (const b of bindings) m.set(b.user, [...(m.get(b.user) ?? []), b]);
  return m;
}

export function describeBinding(b: AclBinding): string {
  return `User:${b.user} ${b.operation} ${b.resourceType}${b.patternType === 'prefix' ? ' prefix' : ''} ${b.resourceName}`;
}
