// What each service needs in Kubernetes: the one place to edit when a service changes. The base
// manifests (deploy/kubernetes/base, components/) are rendered from it by render.ts and
// committed, so platform teams need nothing but kubectl; a test fails when they are stale.
//
// Configuration: every variable a service reads lives in its ConfigMap (provisio-<service>,
// non-secret values and the paths of secret files) plus provisio-common (what all share).
// Secret values are never committed: each service mounts the Secret provisio-<service>-secrets
// (keys = variable names, listed in `secrets`) and reads it through NAME_FILE variables.

export type ServiceName = 'hr-ingest' | 'policy' | 'connector-ldap' | 'connector-scim' | 'connector-postgres' | 'audit';

/** Outbound connections a service needs besides DNS, Kafka, its PostgreSQL and the identity provider. */
export type Egress = 'ldap' | 'https' | 'postgres-target';

export interface ConsumerGroup {
  /** The group as the service names it (KAFKA_TOPIC_PREFIX is prepended at run time). */
  group: string;
  /** Topics it consumes; empty = every topic the group has offsets for (audit's pattern). */
  topics: string[];
}

export interface ServiceModel {
  name: ServiceName;
  component: 'ingest' | 'policy' | 'connector' | 'audit';
  /** Its own non-secret variables (beyond provisio-common). */
  config: Record<string, string>;
  /** Secret variables: keys of Secret provisio-<name>-secrets, read through NAME_FILE. */
  secrets: string[];
  egress: Egress[];
  resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  /** V8 heap limit: about 75 % of the memory limit, leaving room for buffers and native memory. */
  heapMb: number;
  /**
   * The autoscaler's floor (KEDA minReplicaCount, HPA minReplicas). The Deployment itself sets no
   * `replicas`: the autoscaler owns the count, and a `kubectl apply -k` must not reset a
   * scaled-out service. Without the autoscaling component Kubernetes starts one pod (a site sets
   * its own counts with a `replicas:` entry in its overlay).
   */
  minReplicas: number;
  /** Consumer groups KEDA scales on; none = CPU-based autoscaling (HTTP-only services). */
  consumerGroups: ConsumerGroup[];
}

export const HTTP_PORT = 8080;
/** HPA ceiling of the HTTP-only services (consumers are capped by their partitions instead). */
export const HTTP_MAX_REPLICAS = 6;
export const IMAGE_REGISTRY = 'ghcr.io/provisio';
export const IMAGE_TAG = '0.1.0';

/** Paths inside the container where secrets are mounted (read-only). */
export const MOUNTS = {
  secrets: '/var/run/secrets/provisio',
  /** Audit's schema owner credentials, mounted only into its migrate Job and retention CronJob. */
  ownerSecrets: '/var/run/secrets/provisio-owner',
  kafkaUser: '/var/run/secrets/kafka/user',
  /** Audit's dead-letter replay principal (KafkaUser provisio-audit-replay), mounted into audit only. */
  kafkaReplayUser: '/var/run/secrets/kafka/replay-user',
  kafkaCa: '/var/run/secrets/kafka/ca',
  /** The policy service's policy files (ConfigMap POLICY_FILES_CONFIGMAP); POLICY_PATH names this folder. */
  policy: '/etc/provisio/policy',
};

/**
 * The ConfigMap holding the policy files (every *.yaml key is one file; policy.ts is the example).
 * Not `provisio-policy`: that name is the policy service's own variables, like every service's.
 */
export const POLICY_FILES_CONFIGMAP = 'provisio-policy-files';

/** Every service: Kafka over SASL/SCRAM-SHA-512 and TLS, tokens from the identity provider. */
export const COMMON_CONFIG: Record<string, string> = {
  KAFKA_BROKERS: 'kafka-kafka-bootstrap.kafka.svc:9093',
  KAFKA_TOPIC_PREFIX: '',
  KAFKA_SSL: 'true',
  KAFKA_SSL_CA_FILE: `${MOUNTS.kafkaCa}/ca.crt`,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_PASSWORD_FILE: `${MOUNTS.kafkaUser}/password`,
  AUTH_JWKS_URL: 'https://login.example.com/.well-known/jwks.json',
  AUTH_ISSUER: 'https://login.example.com/',
  AUTH_AUDIENCE: 'provisio',
  HTTP_HOST: '0.0.0.0',
  HTTP_PORT: String(HTTP_PORT),
  LOG_LEVEL: 'info',
  DATABASE_URL_FILE: `${MOUNTS.secrets}/DATABASE_URL`,
};

/**
 * The targets each connector serves (CONNECTOR_TARGETS, docs/connectors.md): examples to replace
 * in a site overlay (configMapGenerator, behavior: merge). Secret values are never inline: they
 * are `{ file }` references to keys of the service's mounted Secret, listed in its `secrets`.
 */
const secretFile = (key: string) => ({ file: `${MOUNTS.secrets}/${key}` });
export const CONNECTOR_TARGETS: Record<'connector-ldap' | 'connector-scim', unknown[]> = {
  'connector-ldap': [
    {
      id: 'corp-ldap',
      url: 'ldaps://ldap.example.com:636',
      bindDn: 'cn=provisio,ou=services,dc=example,dc=com',
      bindPassword: secretFile('LDAP_BIND_PASSWORD'),
      usersBase: 'ou=people,dc=example,dc=com',
      groupEntries: { base: 'ou=groups,dc=example,dc=com' },
    },
  ],
  'connector-scim': [{ id: 'scim-app', baseUrl: 'https://app.example.com/scim/v2', auth: { type: 'bearer', token: secretFile('SCIM_APP_TOKEN') } }],
};

/** The one target connector-postgres serves (TARGET_POSTGRES_ID). */
export const POSTGRES_TARGET_ID = 'postgres';

const small = { requests: { cpu: '100m', memory: '192Mi' }, limits: { cpu: '1', memory: '512Mi' } };

// prettier-ignore
export const SERVICES: ServiceModel[] = [
  { name: 'hr-ingest', component: 'ingest', config: { DATABASE_SCHEMA: 'hr_ingest' }, secrets: ['DATABASE_URL', 'DATABASE_MIGRATION_URL'], egress: [], resources: small, heapMb: 384, minReplicas: 2, consumerGroups: [] },
  { name: 'policy', component: 'policy', config: { DATABASE_SCHEMA: 'policy', POLICY_PATH: MOUNTS.policy }, secrets: ['DATABASE_URL', 'DATABASE_MIGRATION_URL'], egress: [], resources: small, heapMb: 384, minReplicas: 2, consumerGroups: [{ group: 'policy', topics: ['hr.lifecycle'] }, { group: 'policy-results', topics: ['provisioning.results'] }] },
  { name: 'connector-ldap', component: 'connector', config: { DATABASE_SCHEMA: 'connector_ldap', CONNECTOR_TARGETS: JSON.stringify(CONNECTOR_TARGETS['connector-ldap']) }, secrets: ['DATABASE_URL', 'DATABASE_MIGRATION_URL', 'LDAP_BIND_PASSWORD'], egress: ['ldap'], resources: small, heapMb: 384, minReplicas: 2, consumerGroups: [{ group: 'connector-ldap', topics: ['provisioning.commands.ldap'] }] },
  { name: 'connector-scim', component: 'connector', config: { DATABASE_SCHEMA: 'connector_scim', CONNECTOR_TARGETS: JSON.stringify(CONNECTOR_TARGETS['connector-scim']) }, secrets: ['DATABASE_URL', 'DATABASE_MIGRATION_URL', 'SCIM_APP_TOKEN'], egress: ['https'], resources: small, heapMb: 384, minReplicas: 2, consumerGroups: [{ group: 'connector-scim', topics: ['provisioning.commands.scim'] }] },
  { name: 'connector-postgres', component: 'connector', config: { DATABASE_SCHEMA: 'connector_postgres', TARGET_POSTGRES_ID: POSTGRES_TARGET_ID, TARGET_POSTGRES_URL_FILE: `${MOUNTS.secrets}/TARGET_POSTGRES_URL` }, secrets: ['DATABASE_URL', 'DATABASE_MIGRATION_URL', 'TARGET_POSTGRES_URL'], egress: ['postgres-target'], resources: small, heapMb: 384, minReplicas: 2, consumerGroups: [{ group: 'connector-postgres', topics: ['provisioning.commands.postgres'] }] },
  {
    name: 'audit',
    component: 'audit',
    // Its runtime role may only INSERT and SELECT audit rows (docs/audit.md); checkpoint signing and PII keys are secrets.
    // No owner credentials in the long-running pod: AUDIT_OWNER_JOBS migrate and apply retention.
    config: { DATABASE_SCHEMA: 'audit', AUDIT_REQUIRE_LEAST_PRIVILEGE: 'true', AUDIT_SIGNING_KEY_FILE: `${MOUNTS.secrets}/AUDIT_SIGNING_KEY`, AUDIT_PII_KEY_FILE: `${MOUNTS.secrets}/AUDIT_PII_KEY` },
    secrets: ['DATABASE_URL', 'AUDIT_SIGNING_KEY', 'AUDIT_PII_KEY'], egress: [], resources: { requests: { cpu: '250m', memory: '384Mi' }, limits: { cpu: '2', memory: '1Gi' } }, heapMb: 768, minReplicas: 2, consumerGroups: [{ group: 'audit', topics: [] }] },
];

/**
 * Audit's jobs that act as the schema owner, so the audit Deployment never holds those
 * credentials: a Job that migrates and grants (`provisio-audit migrate`; the service refuses to
 * start until it has run) and a CronJob that drops old monthly partitions (`provisio-audit
 * retention`; suspended until a site sets the months it must keep). Both mount the Secret
 * `provisio-audit-owner-secrets` (key DATABASE_MIGRATION_URL) besides audit's own.
 */
export const AUDIT_OWNER_JOBS = {
  secret: 'provisio-audit-owner-secrets',
  secrets: ['DATABASE_MIGRATION_URL'],
  retention: { schedule: '30 2 * * *', keepMonths: 84, suspend: true },
};

/** Ports of the outbound connections (NetworkPolicy egress). Restrict destinations per site in an overlay. */
export const EGRESS_PORTS = {
  dns: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
  /** Plain, TLS and external listeners (Strimzi: 9092 plain, 9093 tls, 9094 external). */
  kafka: [{ protocol: 'TCP', port: 9092, endPort: 9094 }],
  postgres: [{ protocol: 'TCP', port: 5432 }],
  /** The identity provider's JWKS and OTLP/HTTP export. */
  identityAndTelemetry: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 4318 }],
  ldap: [{ protocol: 'TCP', port: 389 }, { protocol: 'TCP', port: 636 }],
  https: [{ protocol: 'TCP', port: 443 }],
  'postgres-target': [{ protocol: 'TCP', port: 5432 }],
} as const;
