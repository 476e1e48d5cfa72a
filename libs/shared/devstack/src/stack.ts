import { ensureAuditStack } from './audit-stack.js';
import { ensureDevKeys } from './dev-auth.js';
import { ensureKafka, stopKafka, type LocalKafka } from './kafka.js';
import { ensureDatabase, ensurePostgres, localDatabaseName, stopEmbeddedPostgres, type LocalPostgres } from './postgres.js';
import type { StackEndpoints } from './services.js';

export interface Stack extends StackEndpoints {
  kafka: LocalKafka;
  postgres: LocalPostgres;
}

/** Kafka and PostgreSQL for the services, from the environment or started locally. */
export async function stackUp(log: (l: string) => void = () => undefined): Promise<Stack> {
  // One after the other: fetching and formatting Kafka runs blocking child processes.
  const postgres = await ensurePostgres(log);
  const kafka = await ensureKafka({ log });
  await ensureDatabase(postgres.serverUrl, `${localDatabaseName()}_target`);
  const audit = await ensureAuditStack(postgres.databaseUrl, log);
  return {
    audit,
    kafka,
    postgres,
    kafkaBrokers: kafka.brokers,
    databaseUrl: postgres.databaseUrl,
    serverUrl: postgres.serverUrl,
    authPublicKeyFile: ensureDevKeys().publicKeyFile,
  };
}

/** Stops what the project started (a KAFKA_BROKERS or DATABASE_URL cluster is never touched). */
export async function stackDown(): Promise<{ kafka: boolean; postgres: boolean }> {
  return { kafka: await stopKafka(), postgres: await stopEmbeddedPostgres() };
}
