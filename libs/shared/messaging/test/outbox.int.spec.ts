import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { Inbox, KafkaJsBroker, OutboxRelay, OutboxWriter, envelopeHeaders, injectTraceContext, messagingTablesSql, traceIdOf, withTopicPrefix, type MessageBroker } from '../src/index.js';
import { createLogger, startTelemetry, tracer } from '@provisio/observability';
import { avroCodec, type ProvisioningResult } from '@provisio/contracts';
import { createTestDatabase, kafkaBrokers, readTopic, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import pg from 'pg';
import { Writable } from 'node:stream';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function result(personId: string, version: number): ProvisioningResult {
  return {
    resultId: `r-${personId}-${version}`, commandId: `c-${version}`, personId, target: 'pg', targetKind: 'postgres', version, status: 'APPLIED',
    operations: [], accountRef: null, error: null, hrEffectiveAt: null, appliedAt: Date.now(),
  };
}

describe('transactional outbox on real PostgreSQL and Kafka', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let broker: MessageBroker;
  let prefix: string;
  const schema = 'svc';
  const writer = new OutboxWriter(schema, '/provisio/test');
  const spans = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter: spans });

  beforeAll(async () => {
    startTelemetry('outbox-test', { spanProcessors: [processor] });
    db = await createTestDatabase('outbox');
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    for (const sql of messagingTablesSql(schema)) await pool.query(sql);
    prefix = uniqueTopicPrefix();
    broker = withTopicPrefix(new KafkaJsBroker({ brokers: kafkaBrokers(), clientId: 'outbox-test', logger }), prefix);
    await broker.ensureTopics([{ topic: 'results', partitions: 3 }]);
  });

  afterAll(async () => {
    await broker.close();
    await pool.end();
    await db.drop();
  });

  async function inTx(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await fn(c);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    } finally {
      c.release();
    }
  }

  const msg = (personId: string, version: number) => ({ topic: 'results', key: personId, aggregateType: 'person', type: 'dev.provisio.provisioning.result', schema: 'ProvisioningResult' as const, value: result(personId, version) });

  it('publishes committed rows in order per key, with CloudEvents headers and the trace context; a rollback publishes nothing', async () => {
    const span = tracer().startSpan('test-request');
    await context.with(trace.setSpan(context.active(), span), () =>
      inTx(async (c) => {
        await writer.enqueue(c, [msg('p1', 1), msg('p2', 1), msg('p1', 2)]);
        await writer.enqueue(c, [msg('p1', 3)]);
      }),
    );
    span.end();
    await expect(
      inTx(async (c) => {
        await writer.enqueue(c, [msg('ghost', 1)]);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');

    const relay = new OutboxRelay({ pool, schema, broker, logger });
    expect(await relay.drain()).toBe(4);
    const records = await readTopic(`${prefix}results`, 4);
    const values = records.map((r) => ({ key: r.key!.toString(), headers: Object.fromEntries(Object.entries(r.headers!).map(([k, v]) => [k, String(v)])), value: avroCodec().decode('ProvisioningResult', r.value!) }));
    expect(values.filter((v) => v.key === 'p1').map((v) => v.value.version)).toEqual([1, 2, 3]);
    expect(values.some((v) => v.key === 'ghost')).toBe(false);
    for (const v of values) {
      // Exactly the envelope (assembled in SQL by the writer) plus the trace context, nothing else.
      const { traceparent, ...rest } = v.headers;
      expect(traceparent).toBeDefined();
      expect(rest).toEqual(
        envelopeHeaders({
          id: rest['ce_id']!,
          type: 'dev.provisio.provisioning.result',
          source: '/provisio/test',
          subject: v.key,
          time: rest['ce_time']!,
          contentType: 'application/avro',
          dataschema: `urn:provisio:schema:ProvisioningResult:${avroCodec().fingerprintOf('ProvisioningResult')}`,
        }),
      );
      expect(rest['ce_time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(v.headers).toMatchObject({ ce_specversion: '1.0', ce_type: 'dev.provisio.provisioning.result', ce_source: '/provisio/test', ce_subject: v.key, 'content-type': 'application/avro' });
      expect(traceIdOf(v.headers)).toBe(span.spanContext().traceId);
    }
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox`)).rows[0].n).toBe(0);
    // The relay's span follows the messaging conventions and links the messages' contexts.
    await processor.forceFlush();
    const send = spans.getFinishedSpans().find((s) => s.name === `send results`);
    expect(send).toMatchObject({ kind: SpanKind.PRODUCER, attributes: expect.objectContaining({ 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.batch.message_count': 4 }) });
    expect(send!.links.map((l) => l.context.traceId)).toContain(span.spanContext().traceId);
  });

  it('does not skip a row whose transaction commits after a later id was published', async () => {
    const slow = await pool.connect();
    await slow.query('BEGIN');
    await writer.enqueue(slow, [msg('late', 1)]); // lower id, still uncommitted
    await inTx((c) => writer.enqueue(c, [msg('early', 1)]).then(() => undefined));
    const relay = new OutboxRelay({ pool, schema, broker, logger });
    expect(await relay.drain()).toBe(1);
    await slow.query('COMMIT');
    slow.release();
    expect(await relay.drain()).toBe(1);
    const keys = (await readTopic(`${prefix}results`, 6)).map((r) => r.key!.toString());
    expect(keys).toEqual(expect.arrayContaining(['late', 'early']));
  });

  it('lets one relay publish at a time; a standby takes over when the active one stops', async () => {
    const a = new OutboxRelay({ pool, schema, broker, logger, pollIntervalMs: 50 });
    const b = new OutboxRelay({ pool, schema, broker, logger, pollIntervalMs: 50 });
    a.start();
    await waitFor(async () => a.isLeader, { what: 'relay a to lead' });
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader).toBe(false);
    await a.stop();
    await waitFor(async () => b.isLeader, { timeoutMs: 10_000, what: 'relay b to take over' });
    await inTx((c) => writer.enqueue(c, [msg('after-failover', 1)]).then(() => undefined));
    const records = await readTopic(`${prefix}results`, 7);
    expect(records.map((r) => r.key!.toString())).toContain('after-failover');
    await b.stop();
  });

  it('stores exactly the envelope headers: trace context of the message, else of the active span, else none; no subject for an empty key', async () => {
    const other = tracer().startSpan('incoming-record');
    const incoming = injectTraceContext({}, trace.setSpan(context.active(), other));
    other.end();
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await writer.enqueue(c, [{ ...msg('h1', 1), traceHeaders: incoming }, msg('h2', 1), { ...msg('', 1), id: '0190a5b4-0000-7000-8000-00000000000a' }]);
      const { rows } = await c.query<{ event_id: string; aggregateid: string; headers: Record<string, string> }>(`SELECT event_id, aggregateid, headers FROM ${schema}.outbox ORDER BY id DESC LIMIT 3`);
      const [empty, plain, traced] = rows;
      expect(traceIdOf(traced!.headers)).toBe(other.spanContext().traceId);
      expect(plain!.headers['traceparent']).toBeUndefined();
      expect(plain!.headers).toEqual(
        envelopeHeaders({ id: plain!.event_id, type: 'dev.provisio.provisioning.result', source: '/provisio/test', subject: 'h2', time: plain!.headers['ce_time']!, contentType: 'application/avro', dataschema: plain!.headers['ce_dataschema'] }),
      );
      expect(empty!.headers['ce_id']).toBe('0190a5b4-0000-7000-8000-00000000000a');
      expect(empty!.headers).not.toHaveProperty('ce_subject');
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('inbox: an event id is claimed once per consumer', async () => {
    const inbox = new Inbox(schema);
    expect(await inbox.claim(pool, 'policy', 'e1')).toBe(true);
    expect(await inbox.claim(pool, 'policy', 'e1')).toBe(false);
    expect(await inbox.claim(pool, 'audit', 'e1')).toBe(true);
    expect([...(await inbox.claimMany(pool, 'policy', ['e1', 'e2', 'e3']))].sort()).toEqual(['e2', 'e3']);
  });
});
