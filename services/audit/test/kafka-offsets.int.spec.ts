import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { VerificationReport } from '@provisio/audit-domain';
import { projectRoot } from '@provisio/devstack';
import type { RunningService } from '@provisio/platform';
import { auditTestKeys, createTestDatabase, createTestRole, kafkaBrokers, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase, type TestRole } from '@provisio/testing';
import type { Admin, Producer } from 'kafkajs';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.js';
import { joinerRecords } from './records.js';

/**
 * Verification against the audit consumer group's committed offsets (`--kafka-offsets`), with
 * the audit service ingesting from the real broker into PostgreSQL: the group commits a
 * partition's offset only after the append committed, so every record before a committed offset
 * must be in the store. A tail deleted with its ledger rows (a superuser, triggers off) leaves a
 * chain that verifies from the database alone; Kafka's committed offsets still name it.
 */
describe('verify against the Kafka consumer offsets', () => {
  let db: TestDatabase;
  let role: TestRole;
  let service: RunningService;
  let prefix: string;
  let admin: Admin;
  let producer: Producer;
  const cli = join(projectRoot(), 'services', 'audit', 'dist', 'cli.js');
  const topics = ['hr.lifecycle', 'provisioning.commands.ldap', 'provisioning.results'];

  const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit.records'))[0]!.n);
  /** Until the audit group committed every partition of the topics up to its end. */
  const allCommitted = async () => {
    const committed = new Map((await admin.fetchOffsets({ groupId: `${prefix}audit`, topics: topics.map((t) => prefix + t) })).flatMap((t) => t.partitions.map((p) => [`${t.topic}/${p.partition}`, p.offset] as const)));
    for (const t of topics) {
      for (const p of await admin.fetchTopicOffsets(prefix + t)) if (committed.get(`${prefix}${t}/${p.partition}`) !== p.high) return false;
    }
    return true;
  };
  const cliEnv = () => ({ DATABASE_URL: db.url, AUDIT_SIGNING_KEY: auditTestKeys().signingKey, KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix });
  const verify = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...cliEnv() } });
    return { status: r.status, stderr: r.stderr, report: (r.stdout ? JSON.parse(r.stdout) : null) as VerificationReport | null };
  };

  beforeAll(async () => {
    db = await createTestDatabase('auditoffsets');
    role = await createTestRole(db.url, 'audit_app');
    prefix = uniqueTopicPrefix();
    const kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((t) => ({ topic: prefix + t, numPartitions: 2 })) });
    producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 3; i++) {
      const d = joinerRecords(randomUUID());
      await producer.send({ topic: `${prefix}hr.lifecycle`, messages: [d.lifecycle] });
      await producer.send({ topic: `${prefix}provisioning.commands.ldap`, messages: [d.commandMessage] });
      await producer.send({ topic: `${prefix}provisioning.results`, messages: [d.resultMessage] });
    }
    // No periodic checkpoint during the test: the records after the last one are vouched for by
    // the position ledger alone, which is what a tail deletion removes too.
    service = await bootstrap(serviceTestEnv({ databaseUrl: role.url, topicPrefix: prefix, extra: { DATABASE_MIGRATION_URL: db.url, AUDIT_CHECKPOINT_INTERVAL_MS: '3600000' } }));
    await waitFor(async () => (await count()) === 9, { timeoutMs: 30_000, what: '9 audit records' });
    await waitFor(allCommitted, { timeoutMs: 30_000, what: 'the audit group committed every partition' });
  }, 90_000);

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await service?.close();
    await db?.drop();
    await role?.drop();
  });

  it('CLI: an intact store verifies against the committed offsets (exit 0)', () => {
    const r = verify(['--kafka-offsets']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.report).toMatchObject({ ok: true, records: 9, problems: [] });
  });

  it('CLI: a record Kafka holds below the committed offset but the store lost is named (exit 1); the database alone cannot tell', async () => {
    // One more record, the chain's tail, stored and committed.
    const late = joinerRecords(randomUUID());
    await producer.send({ topic: `${prefix}hr.lifecycle`, messages: [late.lifecycle] });
    await waitFor(async () => (await count()) === 10, { timeoutMs: 30_000, what: 'the tenth record' });
    await waitFor(allCommitted, { timeoutMs: 30_000, what: 'the audit group committed the tenth record' });
    const [tail] = await db.query<{ seq: string; topic: string; kafka_partition: number; kafka_offset: string; ce_id: string }>(
      'SELECT seq, topic, kafka_partition, kafka_offset, ce_id FROM audit.records ORDER BY seq DESC LIMIT 1',
    );
    expect(tail).toMatchObject({ seq: '10', topic: 'hr.lifecycle', ce_id: late.event.eventId });

    // A superuser removes it and its ledger row (triggers off): the chain ends intact at 9.
    const su = new pg.Client({ connectionString: db.url });
    await su.connect();
    try {
      await su.query('SET session_replication_role = replica');
      await su.query('DELETE FROM audit.records WHERE seq = 10');
      await su.query('DELETE FROM audit.record_positions WHERE seq = 10');
    } finally {
      await su.end();
    }

    const databaseOnly = verify([]);
    expect(databaseOnly.status).toBe(0);
    expect(databaseOnly.report).toMatchObject({ ok: true, records: 9 });

    const r = verify(['--kafka-offsets']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: '' });
    expect(r.report).toMatchObject({ ok: false, firstBadPosition: 10 });
    const offset = BigInt(tail!.kafka_offset);
    const where = `hr.lifecycle/${tail!.kafka_partition}`;
    expect(r.report!.problems).toEqual([
      expect.objectContaining({
        kind: 'truncated',
        position: 10,
        detail: expect.stringContaining(`committed ${where} up to offset ${offset + 1n} but the position ledger holds it only up to ${offset === 0n ? 'nothing' : String(offset - 1n)}`) as unknown as string,
      }),
    ]);
    expect(r.report!.problems[0]!.detail).toContain(`offsets ${offset}..${offset}`);
  });
});
