import type { KafkaConnectionOptions, TopicSpec } from '@provisio/messaging';
import type { MigrationInterface } from 'typeorm';

export interface PlatformOptions {
  /** Service name: consumer groups, CloudEvents source, logs and traces use it. */
  service: string;
  kafka: KafkaConnectionOptions & { topicPrefix: string; defaultPartitions?: number | undefined; defaultReplicationFactor?: number | undefined; sessionTimeoutMs?: number | undefined };
  database: {
    url: string;
    schema: string;
    poolMax?: number;
    migrationUrl?: string | undefined;
    migrations: (new () => MigrationInterface)[];
    /** Apply pending migrations at start (default true); false when a separate job owns the schema. */
    migrate?: boolean;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
    entities?: Function[];
  };
  /** Topics this service writes or reads; created at start when missing (with their dead-letter topics). */
  topics: TopicSpec[];
  /** Publish this service's outbox (default true). */
  outboxRelay?: boolean;
  /** Rows per relay pass (default 500); services that emit in bulk publish faster with more. */
  outboxBatchSize?: number;
}

/** Maps the shared KAFKA_* variables (see @provisio/config kafkaEnv) to connection options. */
export function kafkaOptionsFromEnv(
  service: string,
  c: {
    KAFKA_BROKERS: string[];
    KAFKA_CLIENT_ID?: string | undefined;
    KAFKA_TOPIC_PREFIX: string;
    KAFKA_SSL: boolean;
    KAFKA_SSL_CA_FILE?: string | undefined;
    KAFKA_SSL_CERT_FILE?: string | undefined;
    KAFKA_SSL_KEY_FILE?: string | undefined;
    KAFKA_SSL_REJECT_UNAUTHORIZED: boolean;
    KAFKA_SASL_MECHANISM?: 'scram-sha-512' | 'scram-sha-256' | 'plain' | undefined;
    KAFKA_SASL_USERNAME?: string | undefined;
    KAFKA_SASL_PASSWORD?: string | undefined;
    KAFKA_DEFAULT_PARTITIONS?: number | undefined;
    KAFKA_SESSION_TIMEOUT_MS?: number | undefined;
  },
): PlatformOptions['kafka'] {
  return {
    brokers: c.KAFKA_BROKERS,
    defaultPartitions: c.KAFKA_DEFAULT_PARTITIONS,
    sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS,
    clientId: c.KAFKA_CLIENT_ID ?? `provisio-${service}`,
    topicPrefix: c.KAFKA_TOPIC_PREFIX,
    ssl: { enabled: c.KAFKA_SSL, caFile: c.KAFKA_SSL_CA_FILE, certFile: c.KAFKA_SSL_CERT_FILE, keyFile: c.KAFKA_SSL_KEY_FILE, rejectUnauthorized: c.KAFKA_SSL_REJECT_UNAUTHORIZED },
    sasl:
      c.KAFKA_SASL_MECHANISM && c.KAFKA_SASL_USERNAME && c.KAFKA_SASL_PASSWORD
        ? { mechanism: c.KAFKA_SASL_MECHANISM, username: c.KAFKA_SASL_USERNAME, password: c.KAFKA_SASL_PASSWORD }
        : undefined,
  };
}
