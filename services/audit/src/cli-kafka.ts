// Kafka for `provisio-audit verify --kafka-checkpoints / --kafka-offsets`: the same KAFKA_*
// variables, validation and kafkajs options as the services (TLS, SASL, NAME_FILE secrets), so
// the CLI connects wherever the audit service does, as the audit principal.
import { kafkaEnv, loadConfig, refineKafka, type Env } from '@provisio/config';
import { toKafkaJsConfig } from '@provisio/messaging';
import { kafkaOptionsFromEnv } from '@provisio/platform';
import { logLevel } from 'kafkajs';
import { z } from 'zod';
import type { KafkaAccess } from './chain/kafka-evidence.js';

export const cliKafkaSchema = z.object(kafkaEnv).superRefine(refineKafka);

/** kafkajs settings (TLS and SASL as configured; no driver logging on an auditor's terminal) and the topic prefix. */
export type CliKafka = KafkaAccess;

/** The CLI's Kafka connection from the environment (throws ConfigError naming the variable, never a value). */
export function cliKafka(env: Env): CliKafka {
  const cfg = loadConfig(cliKafkaSchema, env);
  const options = kafkaOptionsFromEnv('audit-cli', cfg);
  return { config: { ...toKafkaJsConfig(options), logLevel: logLevel.NOTHING }, topicPrefix: cfg.KAFKA_TOPIC_PREFIX };
}

/**
 * A throw-away consumer group for reading `audit.checkpoints` once. It is inside the audit
 * principal's group ACL (prefix `<KAFKA_TOPIC_PREFIX>audit`, libs/shared/kafka-admin plan.ts) and
 * never the service's own group (`<prefix>audit`), whose offsets `--kafka-offsets` reads.
 */
export function cliGroupId(topicPrefix: string, unique: string = `${process.pid}-${Date.now()}`): string {
  return `${topicPrefix}audit-cli-${unique}`;
}
