import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { SignJWT } from 'jose';
import pg from 'pg';
import { TestEnv, requireEnv } from '@provisio/devstack';

export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A topic prefix of its own, so tests share the broker without seeing each other's records. */
export function uniqueTopicPrefix(): string {
  return `${uniqueId('test')}.`;
}

export async function waitFor<T>(check: () => Promise<T | undefined | false | null>, o: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A connection of its own (transactions, locks held across steps); release() it. */
  client(): Promise<pg.PoolClient>;
  drop(): Promise<void>;
}

/** A fresh, empty database for one test file. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const server = requireEnv(TestEnv.postgresServer);
  const name = uniqueId(`${prefix}_`).toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = `${server}/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  // Idle clients are terminated when the database is dropped (WITH FORCE); that is expected.
  pool.on('error', () => undefined);
  return {
    name,
    url,
    query: async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => (await pool.query<R>(sql, params)).rows,
    client: () => pool.connect(),
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: `${server}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export function kafkaBrokers(): string[] {
  return requireEnv(TestEnv.kafkaBrokers).split(',');
}

export function testKafka(clientId = 'provisio-test'): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId, logLevel: logLevel.NOTHING });
}

/** Reads a topic from the beginning until `count` records arrived (or fails after the timeout). */
export async function readTopic(topic: string, count: number, timeoutMs = 20_000): Promise<KafkaMessage[]> {
  const kafka = testKafka();
  const consumer = kafka.consumer({ groupId: uniqueId('reader-'), maxWaitTimeInMs: 100 });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await waitFor(async () => got.length >= count, { timeoutMs, what: `${count} records on ${topic} (got ${got.length})` });
    return got;
  } finally {
    await consumer.disconnect();
  }
}

export const ALL_TEST_SCOPES = ['hr:read', 'hr:write', 'policy:read', 'policy:write', 'connector:read', 'connector:write', 'audit:read', 'audit:admin'];

/** A bearer token signed with the run's test key (services get the public key through env). */
export async function mintToken(scopes: string[] = ALL_TEST_SCOPES, o: { audience?: string; expiresInSec?: number; subject?: string } = {}): Promise<string> {
  return new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer('provisio-test')
    .setAudience(o.audience ?? 'provisio')
    .setSubject(o.subject ?? 'test-user')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (o.expiresInSec ?? 600))
    .sign(createPrivateKey(requireEnv(TestEnv.authPrivateKey)));
}

let auditKeys: { signingKey: string; piiKey: string } | undefined;

/** Throwaway audit keys for this test process: the checkpoint signing key (PEM) and the PII key-encryption key. */
export function auditTestKeys(): { signingKey: string; piiKey: string } {
  auditKeys ??= {
    signingKey: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    piiKey: randomBytes(32).toString('base64'),
  };
  return auditKeys;
}

export interface TestRole {
  name: string;
  /** `databaseUrl` with this role's credentials. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A LOGIN role of its own for one test run, with no privileges beyond PUBLIC's (roles are
 * cluster-wide, unlike databases). `drop()` removes what was granted to it in `databaseUrl`'s
 * database, then the role.
 */
export async function createTestRole(databaseUrl: string, prefix = 'test_role'): Promise<TestRole> {
  const server = requireEnv(TestEnv.postgresServer);
  const name = uniqueId(`${prefix}_`).toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  await admin.query(`CREATE ROLE "${name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD '${password}'`);
  await admin.end();
  const u = new URL(databaseUrl);
  u.username = name;
  u.password = password;
  return {
    name,
    url: u.toString(),
    drop: async () => {
      const inDb = new pg.Client({ connectionString: databaseUrl });
      try {
        await inDb.connect();
        await inDb.query(`DROP OWNED BY "${name}"`);
      } catch {
        /* the database may be gone already, and the role's grants with it */
      } finally {
        await inDb.end().catch(() => undefined);
      }
      const c = new pg.Client({ connectionString: `${server}/postgres` });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS "${name}"`);
      await c.end();
    },
  };
}

let configTestKey: string | undefined;

/**
 * Environment for parsing a service's configuration in a unit test, without the test stack: the
 * broker and database are never reached, the auth public key is a throwaway one of this process.
 * `extra` adds the variables the test's settings refer to (secrets, CONNECTOR_TARGETS).
 */
export function configTestEnv(extra: Record<string, string> = {}): Record<string, string> {
  configTestKey ??= generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    KAFKA_BROKERS: '127.0.0.1:9092',
    DATABASE_URL: 'postgres://127.0.0.1/unused',
    AUTH_PUBLIC_KEY: configTestKey,
    AUTH_ISSUER: 'provisio-test',
    AUTH_AUDIENCE: 'provisio',
    ...extra,
  };
}

/** Environment for booting a service through its bootstrap() against the test stack. */
export function serviceTestEnv(o: { databaseUrl: string; topicPrefix: string; port?: number; extra?: Record<string, string> }): Record<string, string> {
  return {
    KAFKA_BROKERS: requireEnv(TestEnv.kafkaBrokers),
    KAFKA_TOPIC_PREFIX: o.topicPrefix,
    KAFKA_DEFAULT_PARTITIONS: '3',
    DATABASE_URL: o.databaseUrl,
    HTTP_PORT: String(o.port ?? 0),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: process.env['PROVISIO_TEST_LOG_LEVEL'] ?? 'warn',
    AUTH_PUBLIC_KEY: requireEnv(TestEnv.authPublicKey),
    AUTH_ISSUER: 'provisio-test',
    AUTH_AUDIENCE: 'provisio',
    // Audit's keys (other services ignore them).
    AUDIT_SIGNING_KEY: auditTestKeys().signingKey,
    AUDIT_PII_KEY: auditTestKeys().piiKey,
    ...o.extra,
  };
}
