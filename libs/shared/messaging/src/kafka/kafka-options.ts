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

function readPem(setting: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${setting}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * kafkajs settings. TLS is on when `ssl.enabled` or when any TLS file is given (a CA or client
 * certificate only makes sense over TLS; silently connecting in plain text would hang on a TLS
 * listener or, worse, succeed on a plain one). A client certificate needs its key and vice versa.
 */
export function toKafkaJsConfig(o: KafkaConnectionOptions): KafkaConfig {
  const config: KafkaConfig = {
    clientId: o.clientId,
    brokers: o.brokers,
    connectionTimeout: o.connectionTimeoutMs ?? 3000,
    requestTimeout: o.requestTimeoutMs ?? 30000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10000 },
  };
  const ssl = o.ssl;
  if (ssl && (ssl.enabled || ssl.caFile || ssl.certFile || ssl.keyFile)) {
    if (Boolean(ssl.certFile) !== Boolean(ssl.keyFile)) {
      throw new Error('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: a client certificate needs its private key, set both or neither');
    }
    config.ssl = {
      rejectUnauthorized: ssl.rejectUnauthorized ?? true,
      ...(ssl.caFile ? { ca: [readPem('KAFKA_SSL_CA_FILE', ssl.caFile)] } : {}),
      ...(ssl.certFile ? { cert: readPem('KAFKA_SSL_CERT_FILE', ssl.certFile) } : {}),
      ...(ssl.keyFile ? { key: readPem('KAFKA_SSL_KEY_FILE', ssl.keyFile) } : {}),
    };
  }
  if (o.sasl) config.sasl = { mechanism: o.sasl.mechanism, username: o.sasl.username, password: o.sasl.password } as SASLOptions;
  return config;
}
