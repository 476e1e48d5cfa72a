import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DltHeader, KafkaJsBroker, createBatchListener, withTopicPrefix, type MessageBroker } from '../src/index.js';
import { createLogger } from '@provisio/observability';
import { kafkaBrokers, readTopic, testKafka, uniqueId, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import { Writable } from 'node:stream';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('kafkajs driver with the consumer runner on a real broker', () => {
  let broker: MessageBroker;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniqueTopicPrefix();
    broker = withTopicPrefix(new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: 'consumer-test', logger }), prefix);
    await broker.ensureTopics([{ topic: 'in', partitions: 2 }, { topic: 'in.dlt', partitions: 1 }]);
  });
  afterAll(async () => broker.close());

  it('processes in per-key order, dead-letters a poison record without stalling, and commits only what was handled', async () => {
    const group = uniqueId('g-');
    await broker.send(['1', '2', 'poison', '3', '4'].map((v) => ({ topic: 'in', key: 'person-a', value: Buffer.from(v), headers: { ce_id: `id-${v}` } })));
    const seen: string[] = [];
    let transientLeft = 2;
    const sub = await broker.subscribe(
      { groupId: group, topics: ['in'] },
      createBatchListener(
        async ([m]) => {
          const v = m!.value!.toString();
          if (v === '2' && transientLeft-- > 0) throw Object.assign(new Error('target busy'), { retriable: true });
          if (v === 'poison') throw Object.assign(new Error('cannot parse'), { retriable: false, code: 'PARSE' });
          seen.push(v);
        },
        { groupId: group, mode: 'record', broker, logger, retry: { initialDelayMs: 10, maxDelayMs: 50 } },
      ),
    );
    await waitFor(async () => seen.length === 4, { what: 'four good records' });
    await sub.stop();
    expect(seen).toEqual(['1', '2', '3', '4']);

    const [dead] = await readTopic(`${prefix}in.dlt`, 1);
    expect(dead!.value!.toString()).toBe('poison');
    const h = Object.fromEntries(Object.entries(dead!.headers!).map(([k, v]) => [k, String(v)]));
    expect(h).toMatchObject({ ce_id: 'id-poison', [DltHeader.topic]: 'in', [DltHeader.errorCode]: 'PARSE', [DltHeader.errorMessage]: 'cannot parse', [DltHeader.attempts]: '1' });

    const admin = testKafka().admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: `${prefix}${group}`, topics: [`${prefix}in`] });
    await admin.disconnect();
    const committed = offsets[0]!.partitions.map((p) => Number(p.offset)).reduce((a, b) => a + Math.max(b, 0), 0);
    expect(committed).toBe(5);
  });

  it('after a stop mid-stream, a new member resumes from the last commit and loses nothing', async () => {
    const group = uniqueId('g-');
    const values = Array.from({ length: 40 }, (_, i) => String(i));
    await broker.ensureTopics([{ topic: 'resume', partitions: 1 }]);
    await broker.send(values.map((v) => ({ topic: 'resume', key: 'k', value: Buffer.from(v), headers: {} })));
    const first: string[] = [];
    const sub1 = await broker.subscribe(
      { groupId: group, topics: ['resume'] },
      createBatchListener(
        async ([m]) => {
          first.push(m!.value!.toString());
          await new Promise((r) => setTimeout(r, 20));
        },
        { groupId: group, mode: 'record', broker, logger },
      ),
    );
    await waitFor(async () => first.length >= 10, { what: 'some progress' });
    await sub1.stop();
    const second: string[] = [];
    const sub2 = await broker.subscribe(
      { groupId: group, topics: ['resume'] },
      createBatchListener(async ([m]) => void second.push(m!.value!.toString()), { groupId: group, mode: 'record', broker, logger }),
    );
    await waitFor(async () => second.at(-1) === '39', { what: 'the rest' });
    await sub2.stop();
    // At-least-once: the union covers everything, in order, with at most a re-delivered tail of the first batch.
    expect([...new Set([...first, ...second])]).toEqual(values);
    expect(Number(second[0])).toBeLessThanOrEqual(first.length);
  });

  it('several clients creating the same new topics at once all succeed (services starting together)', async () => {
    // Overlapping but different sets, as the six services ask for theirs.
    const names = Array.from({ length: 8 }, (_, i) => `race.t${i}`);
    const clients = Array.from({ length: 6 }, (_, i) => withTopicPrefix(new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: `race-${i}`, logger }), prefix));
    try {
      await Promise.all(clients.map((c, i) => c.ensureTopics(names.filter((_, j) => (j + i) % 3 !== 0).map((topic) => ({ topic, partitions: 3 })))));
      const admin = testKafka().admin();
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: names.map((n) => `${prefix}${n}`) });
      await admin.disconnect();
      expect(topics.map((t) => [t.name, t.partitions.filter((p) => p.leader >= 0).length]).sort()).toEqual(names.map((n) => [`${prefix}${n}`, 3]).sort());
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('a pattern subscription picks up topics created after it started', async () => {
    const group = uniqueId('g-');
    const seen: string[] = [];
    await broker.ensureTopics([{ topic: 'pat.one', partitions: 1 }]);
    const sub = await broker.subscribe(
      { groupId: group, topicPattern: /^pat\..+/, topicRefreshMs: 500 },
      createBatchListener(async (ms) => void seen.push(...ms.map((m) => m.topic)), { groupId: group, mode: 'batch', broker, logger }),
    );
    await broker.send([{ topic: 'pat.one', key: 'k', value: Buffer.from('1'), headers: {} }]);
    await waitFor(async () => seen.includes('pat.one'), { what: 'pat.one' });
    await broker.ensureTopics([{ topic: 'pat.two', partitions: 1 }]);
    await broker.send([{ topic: 'pat.two', key: 'k', value: Buffer.from('2'), headers: {} }]);
    await waitFor(async () => seen.includes('pat.two'), { timeoutMs: 30_000, what: 'pat.two' });
    await sub.stop();
  });
  it('a member its group dropped (no heartbeat for longer than the session) is started again, and the batch it held is consumed again', async () => {
    const group = uniqueId('g-');
    await broker.ensureTopics([{ topic: 'dropped', partitions: 1 }]);
    await broker.send(['a', 'b'].map((v) => ({ topic: 'dropped', key: 'k', value: Buffer.from(v), headers: {} })));
    let calls = 0;
    const handled: string[] = [];
    const sub = await broker.subscribe({ groupId: group, topics: ['dropped'], sessionTimeoutMs: 6000 }, async (batch, controls) => {
      // The first batch never heart-beats for longer than the session: the coordinator drops the
      // member, and its commit is refused for good (kafkajs stops the consumer).
      if (++calls === 1) await new Promise((r) => setTimeout(r, 9000));
      handled.push(...batch.records.map((r) => r.value!.toString()));
      await controls.commit(batch.records.at(-1)!.offset);
    });
    const committed = async () => {
      const admin = testKafka().admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchOffsets({ groupId: `${prefix}${group}`, topics: [`${prefix}dropped`] });
        return Number(offsets[0]!.partitions[0]!.offset);
      } finally {
        await admin.disconnect();
      }
    };
    try {
      await waitFor(async () => (await committed()) === 2, { timeoutMs: 60_000, what: 'the batch committed after the restart' });
    } finally {
      await sub.stop();
    }
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(handled.slice(-2)).toEqual(['a', 'b']);
  }, 90_000);
  it('stopped while its dropped consumer waits to be restarted: no consumer is started again, nothing more is consumed', async () => {
    // A broker of its own whose log the test reads: it stops the subscription once the restart is pending.
    const lines: string[] = [];
    const watched = withTopicPrefix(
      new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: 'consumer-test', logger: createLogger({ service: 'test', level: 'info', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }) }),
      prefix,
    );
    const group = uniqueId('g-');
    await watched.ensureTopics([{ topic: 'dropped-stop', partitions: 1 }]);
    await watched.send([{ topic: 'dropped-stop', key: 'k', value: Buffer.from('a'), headers: {} }]);
    let calls = 0;
    const sub = await watched.subscribe({ groupId: group, topics: ['dropped-stop'], sessionTimeoutMs: 6000 }, async (batch, controls) => {
      if (++calls === 1) await new Promise((r) => setTimeout(r, 9000));
      await controls.commit(batch.records.at(-1)!.offset);
    });
    try {
      await waitFor(async () => lines.some((l) => l.includes('starting it again')), { timeoutMs: 30_000, intervalMs: 20, what: 'the restart pending' });
      const started = Date.now();
      await sub.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
      // Well past the restart delay: nothing was started again, nothing consumed.
      await watched.send([{ topic: 'dropped-stop', key: 'k', value: Buffer.from('b'), headers: {} }]);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(calls).toBe(1);
      const admin = testKafka().admin();
      await admin.connect();
      try {
        const { groups } = await admin.describeGroups([`${prefix}${group}`]);
        expect(groups[0]!.members).toEqual([]);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await sub.stop();
      await watched.close();
    }
  }, 90_000);
});
