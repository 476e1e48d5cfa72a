import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { VerificationReport } from '@provisio/audit-domain';
import { projectRoot } from '@provisio/devstack';
import type { RunningService } from '@provisio/platform';
import { auditTestKeys, createTestDatabase, createTestRole, kafkaBrokers, mintToken, readTopic, serviceTestEnv, testKafka, uniqueTopicPrefix, waitFor, type TestDatabase, type TestRole } from '@provisio/testing';
import { logLevel, type Admin, type Producer } from 'kafkajs';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.js';
import { CHAIN_SERVICE, type ChainService } from '../src/chain/chain.service.js';
import { KafkaEvidence, KafkaEvidenceUnavailable, verifyGroupId } from '../src/chain/kafka-evidence.js';
import { joinerRecords } from './records.js';

/**
 * Verification against the audit consumer group's committed offsets (`--kafka-offsets`), with
 * the audit service ingesting from the real broker into PostgreSQL: the group commits a
 * partition's offset only after the append committed, so every record before a committed offset
 * must be in the store. A tail deleted with its ledger rows (a superuser, triggers off) leaves a
 * chain that verifies from the database alone; Kafka's committed offsets still name it. So does
 * a record inside a partition that audit never stored while the group's offset went past it. The
 * same checks through the API (`GET /v1/verification?kafkaOffsets=true`), and `kafkaCheckpoints=true`.
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
      // A partition that never held a record has no committed offset (-1).
      for (const p of await admin.fetchTopicOffsets(prefix + t)) if (p.high !== '0' && committed.get(`${prefix}${t}/${p.partition}`) !== p.high) return false;
    }
    return true;
  };
  const cliEnv = () => ({ DATABASE_URL: db.url, AUDIT_SIGNING_KEY: auditTestKeys().signingKey, KAFKA_BROKERS: kafkaBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix });
  let read: string;
  const get = async (path: string, token = read): Promise<{ status: number; body: VerificationReport }> => {
    const r = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as VerificationReport };
  };
  const verify = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...cliEnv() } });
    return { status: r.status, stderr: r.stderr, report: (r.stdout ? JSON.parse(r.stdout) : null) as VerificationReport | null };
  };

  // No periodic checkpoint during the test: the records after the last one are vouched for by
  // the position ledger alone, which is what a tail deletion removes too.
  const startAudit = () => bootstrap(serviceTestEnv({ databaseUrl: role.url, topicPrefix: prefix, extra: { DATABASE_MIGRATION_URL: db.url, AUDIT_CHECKPOINT_INTERVAL_MS: '3600000' } }));

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
    service = await startAudit();
    read = await mintToken(['audit:read'], { subject: 'auditor-1' });
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

  it('HTTP: GET /v1/verification with kafkaOffsets and kafkaCheckpoints verifies an intact store, with the scope of verify', async () => {
    const r = await get('/v1/verification?kafkaOffsets=true&kafkaCheckpoints=true');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, records: 9, problems: [] });
    // The same scope as verification, and the same 400s for bad input.
    expect((await get('/v1/verification?kafkaOffsets=true', await mintToken(['hr:read']))).status).toBe(403);
    expect((await fetch(`${service.url}/v1/verification?kafkaOffsets=true`)).status).toBe(401);
    const bad = await get('/v1/verification?kafkaOffsets=yes');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('query.kafkaOffsets');
    const withToSeq = await get('/v1/verification?kafkaOffsets=true&toSeq=5');
    expect(withToSeq.status).toBe(400);
    expect(JSON.stringify(withToSeq.body)).toContain('compared with the end of the chain');
  });

  it('Kafka that cannot be read is an error naming what was being read, never a verdict on the chain', async () => {
    const unreachable = new KafkaEvidence({ config: { brokers: ['127.0.0.1:1'], connectionTimeout: 300, retry: { retries: 0 }, logLevel: logLevel.NOTHING }, topicPrefix: prefix }, () => verifyGroupId(prefix));
    await expect(unreachable.verifyOptions({}, { offsets: true })).rejects.toThrow(KafkaEvidenceUnavailable);
    await expect(unreachable.verifyOptions({}, { offsets: true })).rejects.toThrow(/^Kafka unavailable \(reading the audit group offsets\)/);
    await expect(unreachable.verifyOptions({}, { checkpoints: true })).rejects.toThrow(/^Kafka unavailable \(reading audit\.checkpoints\)/);
  });

  describe('records Kafka holds below the committed offsets, deleted from the store with their ledger rows', () => {
    let deleted: { seq: string; kafka_partition: number; kafka_offset: string }[];

    beforeAll(async () => {
      // Two more records on hr.lifecycle partition 0, the chain's tail (10 and 11): 10 is covered by
      // a checkpoint published to audit.checkpoints, 11 is not (no checkpoint after it yet).
      const chain = service.app.get<ChainService>(CHAIN_SERVICE);
      await producer.send({ topic: `${prefix}hr.lifecycle`, messages: [{ ...joinerRecords(randomUUID()).lifecycle, partition: 0 }] });
      await waitFor(async () => (await count()) === 10, { timeoutMs: 30_000, what: 'the tenth record' });
      expect(await chain.checkpoint()).toMatchObject({ statement: { seq: 10 } });
      await readTopic(`${prefix}audit.checkpoints`, 1);
      await producer.send({ topic: `${prefix}hr.lifecycle`, messages: [{ ...joinerRecords(randomUUID()).lifecycle, partition: 0 }] });
      await waitFor(async () => (await count()) === 11, { timeoutMs: 30_000, what: 'the eleventh record' });
      await waitFor(allCommitted, { timeoutMs: 30_000, what: 'the audit group committed the tail' });
      deleted = await db.query('SELECT seq, topic, kafka_partition, kafka_offset FROM audit.records WHERE seq >= 10 ORDER BY seq');
      expect(deleted).toEqual([expect.objectContaining({ seq: '10', topic: 'hr.lifecycle', kafka_partition: 0 }), expect.objectContaining({ seq: '11', topic: 'hr.lifecycle', kafka_partition: 0 })]);

      // A superuser (triggers off) removes both, their ledger rows and the stored checkpoint.
      const su = new pg.Client({ connectionString: db.url });
      await su.connect();
      try {
        await su.query('SET session_replication_role = replica');
        await su.query('DELETE FROM audit.records WHERE seq >= 10');
        await su.query('DELETE FROM audit.record_positions WHERE seq >= 10');
        await su.query('DELETE FROM audit.checkpoints WHERE seq >= 10');
      } finally {
        await su.end();
      }
    }, 90_000);

    /** The one problem --kafka-offsets reports: topic, partition, committed offset, the ledger's end and the missing offsets. */
    const offsetsProblem = () => {
      const first = BigInt(deleted[0]!.kafka_offset);
      const last = BigInt(deleted[1]!.kafka_offset);
      return {
        kind: 'truncated',
        position: 10,
        detail: `the audit consumer group committed hr.lifecycle/0 up to offset ${last + 1n} but the position ledger holds it only up to ${first === 0n ? 'nothing' : String(first - 1n)}: records consumed and committed are gone (unless offsets ${first}..${last} hold no records, e.g. transaction markers)`,
      };
    };

    it('the database alone cannot tell: CLI and HTTP verify without Kafka find the chain intact', async () => {
      const cliReport = verify([]);
      expect(cliReport.status).toBe(0);
      expect(cliReport.report).toMatchObject({ ok: true, records: 9 });
      const r = await get('/v1/verification');
      expect(r).toMatchObject({ status: 200, body: { ok: true, records: 9 } });
    });

    it('CLI --kafka-offsets: exit 1, naming topic, partition and the offsets missing', () => {
      const r = verify(['--kafka-offsets']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: '' });
      expect(r.report).toMatchObject({ ok: false, firstBadPosition: 10 });
      expect(r.report!.problems).toEqual([offsetsProblem()]);
      expect(verify(['--kafka-offsets', '--to-seq', '5'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--kafka-offsets cannot be combined with --to-seq') });
    });

    it('HTTP kafkaOffsets=true: the same report as the CLI', async () => {
      const r = await get('/v1/verification?kafkaOffsets=true');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ ok: false, firstBadPosition: 10 });
      expect(r.body.problems).toEqual([offsetsProblem()]);
    });

    it('HTTP kafkaCheckpoints=true: the checkpoint published to Kafka proves the tail up to 10 existed', async () => {
      const r = await get('/v1/verification?kafkaCheckpoints=true');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ ok: false, firstBadPosition: 10 });
      expect(r.body.problems).toEqual([expect.objectContaining({ kind: 'truncated', position: 10 })]);
      expect(r.body.problems[0]!.detail).not.toContain('consumer group');
    });
  });
  describe('offsets committed past a record audit never stored (a hole inside a partition)', () => {
    const topic = () => `${prefix}hr.lifecycle`;
    const send = () => producer.send({ topic: topic(), messages: [joinerRecords(randomUUID()).lifecycle] });
    const committedTo = (offset: string) => async () => (await admin.fetchOffsets({ groupId: `${prefix}audit`, topics: [topic()] }))[0]?.partitions[0]?.offset === offset;

    // A store of its own. Audit stores offset 0 and stops; offset 1 is produced and the group's
    // offset set past it (as an offset reset, or a consumer that skipped it, would leave it); audit
    // starts again and stores offset 2. The chain is intact, the ledger's end meets the committed
    // offset: only the hole at offset 1 tells.
    beforeAll(async () => {
      await service.close();
      await db.drop();
      await role.drop();
      db = await createTestDatabase('auditoffsetshole');
      role = await createTestRole(db.url, 'audit_app');
      prefix = uniqueTopicPrefix();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topic(), numPartitions: 1 }] });
      await send();
      service = await startAudit();
      await waitFor(async () => (await count()) === 1, { timeoutMs: 30_000, what: 'offset 0 stored' });
      await waitFor(committedTo('1'), { timeoutMs: 30_000, what: 'offset 0 committed' });
      await service.close();
      await send();
      await waitFor(
        async () => {
          await admin.setOffsets({ groupId: `${prefix}audit`, topic: topic(), partitions: [{ partition: 0, offset: '2' }] });
          return true;
        },
        { timeoutMs: 30_000, what: 'the audit group empty, its offset set past offset 1' },
      );
      await send();
      service = await startAudit();
      await waitFor(async () => (await count()) === 2, { timeoutMs: 30_000, what: 'offset 2 stored' });
      await waitFor(committedTo('3'), { timeoutMs: 30_000, what: 'offset 2 committed' });
      expect(await db.query('SELECT seq, kafka_offset FROM audit.records ORDER BY seq')).toEqual([{ seq: '1', kafka_offset: '0' }, { seq: '2', kafka_offset: '2' }]);
    }, 120_000);

    const hole = {
      kind: 'deleted',
      position: 2,
      detail:
        "the position ledger has no row for hr.lifecycle/0 offset 1 (between offset 0 at position 1 and 2 at position 2), though the audit consumer group's committed offset (3) is past them: records Kafka held there are not in the store (unless those offsets hold no records, e.g. transaction markers)",
    };

    it('the chain alone verifies', () => {
      expect(verify([])).toMatchObject({ status: 0, report: { ok: true, records: 2 } });
    });

    it('CLI --kafka-offsets names the partition and offset missing (exit 1)', () => {
      const r = verify(['--kafka-offsets']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: '' });
      expect(r.report).toMatchObject({ ok: false, firstBadPosition: 2, problems: [hole] });
    });

    it('HTTP kafkaOffsets=true: the same', async () => {
      expect(await get('/v1/verification?kafkaOffsets=true')).toMatchObject({ status: 200, body: { ok: false, firstBadPosition: 2, problems: [hole] } });
    });
  });
});
