import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';

/** Connection settings of the kafkajs driver, as the services' config provides them. */
export interface KafkaConnectionOptions {
  brokers: string[];
  clientId: string;
  ssl?: { enabled: boolean; caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined; rejectUnauthorized?: boolean };
  sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256' | 'plain'; username: string; password: string } | undefined;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export function toKafkaJsConfig(o: KafkaConnectionOptions): KafkaConfig {
  const config: KafkaConfig = {
    clientId: o.clientId,
    brokers: o.brokers,
    connectionTimeout: o.connectionTimeoutMs ?? 3000,
    requestTimeout: o.requestTimeoutMs ?? 30000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10000 },
  };
  if (o.ssl?.enabled) {
    config.ssl = {
      rejectUnauthorized: o.ssl.rejectUnauthorized ?? true,
      ...(o.ssl.caFile ? { ca: [readFileSync(o.ssl.caFile, 'utf8')] } : {}),
      ...(o.ssl.certFile ? { cert: readFileSync(o.ssl.certFile, 'utf8') } : {}),
      ...(o.ssl.keyFile ? { key: readFileSync(o.ssl.keyFile, 'utf8') } : {}),
    };
  }
  if (o.sasl) config.sasl = { mechanism: o.sasl.mechanism, username: o.sasl.username, password: o.sasl.password } as SASLOptions;
  return config;
}
