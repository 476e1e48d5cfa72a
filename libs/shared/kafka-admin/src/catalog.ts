import { Topics } from '@provisio/contracts';

/**
 * The one definition of Provisio's Kafka topics and of who may do what with them. Everything
 * else is derived from it: the Strimzi KafkaTopic/KafkaUser resources in deploy/kubernetes, the
 * `kafka-admin apply` command for clusters without Strimzi, the KEDA replica caps and the tests
 * that prove the ACLs on a real broker.
 *
 * Adding a topic is one line in TOPICS; adding a consumer or producer is a name in its
 * `readers`/`writers`. Services are named as in services/<name>.
 */

/** Principals Provisio runs as: one per service, plus external readers of its output. */
export const SERVICE_PRINCIPALS = ['hr-ingest', 'policy', 'connector-ldap', 'connector-scim', 'connector-postgres', 'audit'] as const;
/**
 * The principal of audit's dead-letter replay producer (POST /v1/dead-letters/:seq/replay): the
 * only one that may write the replayable source topics besides their producers. Audit's ingest
 * principal stays read-only on the pipeline, so a compromise of its consumer cannot inject HR
 * events or commands; the replay credentials are configured separately (KAFKA_REPLAY_SASL_*).
 */
export const AUDIT_REPLAY_PRINCIPAL = 'audit-replay' as const;
export const EXTERNAL_PRINCIPALS = ['siem-reader'] as const;
export type PrincipalName = (typeof SERVICE_PRINCIPALS)[number] | typeof AUDIT_REPLAY_PRINCIPAL | (typeof EXTERNAL_PRINCIPALS)[number];

/** Target kinds that have a connector service (and so a command topic). */
export const TARGET_KINDS = ['ldap', 'scim', 'postgres'] as const;

/** A retention period: `<n>h`, `<n>d`, or `forever`. */
export type Retention = `${number}h` | `${number}d` | 'forever';

export interface TopicDefinition {
  name: string;
  /** Parallelism of the topic's consumers; KEDA never scales a group beyond it. */
  partitions: number;
  retention: Retention;
  /** `delete` (the default) or `compact`: compaction needs every record keyed by the entity it replaces. */
  cleanup?: 'delete' | 'compact';
  /** Consumers of this topic dead-letter to `<name>.dlt`, which then exists too. */
  deadLetter: boolean;
  writers: PrincipalName[];
  /**
   * Readers besides audit's consumer, which reads every topic of its families (AUDIT_READS). Audit
   * is listed only on its own output topics that its verification reads back (audit.checkpoints).
   */
  readers: PrincipalName[];
  /** Extra topic configuration (Kafka topic config names). */
  config?: Record<string, string>;
  description: string;
}

const connectors: PrincipalName[] = TARGET_KINDS.map((k) => `connector-${k}` as PrincipalName);

// prettier-ignore
export const TOPICS: TopicDefinition[] = [
  { name: Topics.lifecycle, partitions: 12, retention: '30d', deadLetter: true, writers: ['hr-ingest'], readers: ['policy'], description: 'LifecycleEvent per person (joiner, mover, leaver, ...)' },
  ...TARGET_KINDS.map((k): TopicDefinition => ({ name: Topics.commands(k), partitions: 12, retention: '14d', deadLetter: true, writers: ['policy'], readers: [`connector-${k}`], description: `ProvisioningCommand for ${k} targets (desired state, versioned)` })),
  { name: Topics.results, partitions: 12, retention: '14d', deadLetter: true, writers: connectors, readers: ['policy'], description: 'ProvisioningResult of every command' },
  { name: Topics.policyDecisions, partitions: 12, retention: '30d', deadLetter: true, writers: ['policy'], readers: [], description: 'PolicyDecision: why a person evaluation changed desired states (explanation at decision time; commands name it)' },
  { name: Topics.policyViolations, partitions: 3, retention: '30d', deadLetter: true, writers: ['policy'], readers: [], description: 'PolicyViolation: segregation-of-duties findings' },
  { name: Topics.policyChanges, partitions: 3, retention: '30d', deadLetter: true, writers: ['policy'], readers: [], description: 'PolicyChange: policy versions, activations, manual assignments, SoD exceptions' },
  { name: Topics.drift, partitions: 3, retention: '30d', deadLetter: true, writers: connectors, readers: [], description: 'DriftEvent per finding and ReconciliationRun per run of connector reconciliation' },
  { name: Topics.siem, partitions: 6, retention: '7d', deadLetter: false, writers: ['audit'], readers: ['siem-reader'], description: 'OCSF JSON for the SIEM' },
  // The optional formats (AUDIT_SIEM_FORMATS=cef,ecs) publish to audit.siem.<format>.
  ...(['cef', 'ecs'] as const).map((f): TopicDefinition => ({ name: `${Topics.siem}.${f}`, partitions: 6, retention: '7d', deadLetter: false, writers: ['audit'], readers: ['siem-reader'], description: `${f.toUpperCase()} events for the SIEM (optional format)` })),
  // Read back by `provisio-audit verify --kafka-checkpoints`, which runs as the audit principal (AUDIT_VERIFIER_READS).
  { name: Topics.checkpoints, partitions: 1, retention: 'forever', deadLetter: false, writers: ['audit'], readers: ['audit'], description: 'signed hash-chain checkpoints, kept outside the database' },
];

/** Dead-letter topics keep failed records long enough for an operator to look and replay. */
export const DEAD_LETTER_DEFAULTS = { partitions: 3, retention: '30d' as Retention };

/** Audit records every topic of these families (its subscription pattern), dead letters included. */
export const AUDIT_READS = ['hr.', 'provisioning.', 'policy.', 'connector.'];

/**
 * Audit replays a dead-lettered record back to its original topic (issue 6) through its own
 * principal (AUDIT_REPLAY_PRINCIPAL), which may write the audited topics that have dead letters.
 * Set to false to keep replays an operator task: the replay principal then does not exist.
 */
export const AUDIT_REPLAYS: boolean = true;

/** Every principal the catalog defines ACLs for, in a stable order. */
export const ALL_PRINCIPALS: readonly PrincipalName[] = [...SERVICE_PRINCIPALS, ...(AUDIT_REPLAYS ? [AUDIT_REPLAY_PRINCIPAL] : []), ...EXTERNAL_PRINCIPALS];

/** Production replication: survives one broker down while accepting writes (acks=all). */
export const REPLICATION = { replicas: 3, minInSyncReplicas: 2 };

/** Transactional ids a principal may use (prefix); none of the services uses transactions today. */
export const TRANSACTIONAL_ID_PREFIXES: Partial<Record<PrincipalName, string>> = {};
