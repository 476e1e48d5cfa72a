import { generateKeyPairSync } from 'node:crypto';
import { DEFAULT_KAFKA_VERSION, TestEnv, brokerAnswers, ensureKafka, ensurePostgres, postgresAnswers } from '@provisio/devstack';

interface Started {
  kafka?: boolean;
  containers?: { stop: () => Promise<unknown> }[];
}

declare global {
  var __provisioStack: Started | undefined;
}

function serverUrlOf(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  u.pathname = '';
  return u.toString().replace(/\/$/, '');
}

async function dockerAvailable(): Promise<boolean> {
  if (process.env['PROVISIO_TEST_NO_DOCKER'] === '1') return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(started: Started): Promise<{ brokers: string; server: string }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const kafka = await new GenericContainer(`apache/kafka:${DEFAULT_KAFKA_VERSION}`)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const pgc = await new GenericContainer('postgres:17')
    .withExposedPorts(5432)
    .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  started.containers = [kafka, pgc];
  return { brokers: `127.0.0.1:${port}`, server: `postgres://postgres:postgres@${pgc.getHost()}:${pgc.getMappedPort(5432)}` };
}

/**
 * Picks the stack for integration and end-to-end tests, in one place: KAFKA_BROKERS /
 * DATABASE_URL when set; else testcontainers where a Docker engine answers; else the local stack
 * (Kafka from Maven Central, the local or embedded PostgreSQL). Fails — never skips — when none
 * can be had.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env[TestEnv.stackSource]) return; // the other project of this run set it up
  const started: Started = {};
  globalThis.__provisioStack = started;
  let brokers = process.env['KAFKA_BROKERS'];
  let server = process.env['DATABASE_URL'] ? serverUrlOf(process.env['DATABASE_URL']) : undefined;
  let source = 'environment';
  if (!brokers || !server) {
    if (await dockerAvailable()) {
      ({ brokers, server } = await startContainers(started));
      source = 'testcontainers';
    } else {
      const log = (l: string) => process.stderr.write(`[test-stack] ${l}\n`);
      server ??= (await ensurePostgres(log)).serverUrl;
      if (!brokers) {
        const kafka = await ensureKafka({ log });
        started.kafka = kafka.started;
        brokers = kafka.brokers.join(',');
      }
      source = 'local';
    }
  }
  if (!(await brokerAnswers(brokers.split(',')))) throw new Error(`Kafka at ${brokers} does not answer`);
  if (!(await postgresAnswers(`${server}/postgres`))) throw new Error(`PostgreSQL at ${server} does not answer`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  process.env[TestEnv.kafkaBrokers] = brokers;
  process.env[TestEnv.postgresServer] = server;
  process.env[TestEnv.authPublicKey] = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  process.env[TestEnv.authPrivateKey] = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  process.env[TestEnv.stackSource] = source;
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
}
