import { describe, expect, it } from '@jest/globals';
import { CeHeader, envelopeHeaders, parseEnvelope, traceIdOf, uuidv7, withTopicPrefix, InMemoryBroker } from '../src/index.js';

describe('CloudEvents Kafka binding (binary mode)', () => {
  it('writes the required ce_ headers and content-type, and reads them back', () => {
    const env = { id: 'id-1', type: 'dev.provisio.lifecycle.joiner', source: '/provisio/hr-ingest', subject: 'p-1', time: '2026-11-25T10:00:00.000Z', contentType: 'application/avro' };
    const h = envelopeHeaders(env);
    expect(h).toEqual({
      ce_specversion: '1.0',
      ce_id: 'id-1',
      ce_type: 'dev.provisio.lifecycle.joiner',
      ce_source: '/provisio/hr-ingest',
      ce_subject: 'p-1',
      ce_time: '2026-11-25T10:00:00.000Z',
      'content-type': 'application/avro',
    });
    expect(parseEnvelope(h)).toMatchObject(env);
    expect(h[CeHeader.specversion]).toBe('1.0');
  });

  it('extracts the trace id from a W3C traceparent', () => {
    expect(traceIdOf({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceIdOf({ traceparent: 'garbage' })).toBeUndefined();
  });
});

describe('uuidv7', () => {
  it('is a version 7 RFC 9562 UUID and sorts by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });
});

describe('topic prefix', () => {
  it('prefixes physical topics and groups, and hands logical names to the code', async () => {
    const inner = new InMemoryBroker();
    const broker = withTopicPrefix(inner, 'run1.');
    await broker.send([{ topic: 'hr.lifecycle', key: 'p', value: Buffer.from('x'), headers: {} }]);
    expect(inner.records('run1.hr.lifecycle')).toHaveLength(1);
    const seen: string[] = [];
    const sub = await broker.subscribe({ groupId: 'audit', topicPattern: /^hr\./ }, async (batch, c) => {
      seen.push(...batch.records.map((r) => r.topic));
      await c.commit(batch.records.at(-1)!.offset);
    });
    const deadline = Date.now() + 2000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await sub.stop();
    expect(seen).toEqual(['hr.lifecycle']);
    expect(inner.committedOffset('run1.audit', 'run1.hr.lifecycle', 0)).toBe('0');
    await inner.close();
  });
});
