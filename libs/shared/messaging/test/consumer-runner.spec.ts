import { afterEach, describe, expect, it } from '@jest/globals';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createLogger, startTelemetry, tracer } from '@provisio/observability';
import { DltHeader, InMemoryBroker, MessagingError, MessagingErrorCode, createBatchListener, deadLetterMessage, type ConsumedMessage, type MessageHandler } from '../src/index.js';
import { Writable } from 'node:stream';

const silent = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const fastRetry = { initialDelayMs: 1, maxDelayMs: 5, unknownErrorAttempts: 3 };

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('consumer runner', () => {
  let broker: InMemoryBroker;
  afterEach(async () => broker.close());

  async function consume(handler: MessageHandler<Buffer | null>, mode: 'record' | 'batch' = 'record') {
    await broker.subscribe({ groupId: 'g', topics: ['t'] }, createBatchListener(handler, { groupId: 'g', mode, broker, logger: silent, retry: fastRetry }));
  }

  const send = (values: string[], key = 'k') => broker.send(values.map((v) => ({ topic: 't', key, value: Buffer.from(v), headers: { ce_id: v } })));

  it('delivers records in partition order and commits after the handler returned', async () => {
    broker = new InMemoryBroker();
    const seen: string[] = [];
    await send(['a', 'b', 'c']);
    await consume(async ([m]) => void seen.push(m!.value!.toString()));
    await until(() => broker.committedOffset('g', 't', 0) === '2');
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('runs each handler inside a `process <topic>` CONSUMER span continuing the producer trace', async () => {
    const spans = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor({ exporter: spans });
    startTelemetry('runner-test', { spanProcessors: [processor] });
    broker = new InMemoryBroker();
    const parent = tracer().startSpan('producer');
    const headers: Record<string, string> = { ce_id: 'e-1' };
    propagation.inject(trace.setSpan(context.active(), parent), headers);
    parent.end();
    await broker.send([{ topic: 't', key: 'k', value: Buffer.from('v'), headers }]);
    let inside: string | undefined;
    await consume(async () => void (inside = trace.getActiveSpan()?.spanContext().traceId));
    await until(() => broker.committedOffset('g', 't', 0) === '0');
    await processor.forceFlush();
    const span = spans.getFinishedSpans().find((s) => s.name === 'process t')!;
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': 't', 'messaging.consumer.group.name': 'g', 'messaging.message.id': 'e-1' });
    expect(inside).toBe(parent.spanContext().traceId);
  });

  it('never commits a record before its handler has returned', async () => {
    broker = new InMemoryBroker();
    await send(['a', 'b']);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    await consume(async ([m]) => {
      started.push(m!.value!.toString());
      if (m!.value!.toString() === 'a') await gate;
    });
    await until(() => started.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(broker.committedOffset('g', 't', 0)).toBeUndefined();
    release();
    await until(() => broker.committedOffset('g', 't', 0) === '1');
    expect(started).toEqual(['a', 'b']);
  });

  it('keeps the offset where it is while a transient error is retried', async () => {
    broker = new InMemoryBroker();
    await send(['a']);
    let attempts = 0;
    let ok = false;
    await consume(async () => {
      attempts++;
      if (!ok) throw Object.assign(new Error('target down'), { retriable: true });
    });
    await until(() => attempts >= 5);
    expect(broker.committedOffset('g', 't', 0)).toBeUndefined();
    ok = true;
    await until(() => broker.committedOffset('g', 't', 0) === '0');
  });

  it('retries a transient error in place, keeping order, without dead-lettering', async () => {
    broker = new InMemoryBroker();
    const seen: string[] = [];
    let failures = 0;
    await send(['a', 'b']);
    await consume(async ([m]) => {
      const v = m!.value!.toString();
      if (v === 'a' && failures < 4) {
        failures++;
        throw new MessagingError(MessagingErrorCode.BrokerUnavailable, 'target down', true);
      }
      seen.push(v);
    });
    await until(() => broker.committedOffset('g', 't', 0) === '1');
    expect(failures).toBe(4);
    expect(seen).toEqual(['a', 'b']);
    expect(broker.records('t.dlt')).toHaveLength(0);
  });

  it('lets a batch handler dead-letter one message through the context and settle the rest itself', async () => {
    broker = new InMemoryBroker();
    const seen: string[] = [];
    await send(['ok1', 'bad', 'ok2']);
    await consume(async (messages, ctx) => {
      expect(ctx.isActive()).toBe(true);
      for (const m of messages) {
        if (m.value!.toString() === 'bad') await ctx.deadLetter(m, new MessagingError(MessagingErrorCode.DecodeFailed, 'refused by target', false));
        else seen.push(m.value!.toString());
      }
    }, 'batch');
    await until(() => broker.committedOffset('g', 't', 0) === '2');
    expect(seen).toEqual(['ok1', 'ok2']);
    const dlt = broker.records('t.dlt');
    expect(dlt).toHaveLength(1);
    expect(dlt[0]!.value!.toString()).toBe('bad');
    expect(dlt[0]!.headers[DltHeader.errorMessage]).toBe('refused by target');
    expect(dlt[0]!.headers[DltHeader.offset]).toBe('1');
  });

  it('dead-letters a permanent error at once with the original bytes and error headers, and moves on', async () => {
    broker = new InMemoryBroker();
    const seen: string[] = [];
    let attempts = 0;
    await send(['good1', 'poison', 'good2']);
    await consume(async ([m]) => {
      const v = m!.value!.toString();
      if (v === 'poison') {
        attempts++;
        throw Object.assign(new Error('invalid data'), { retriable: false, code: 'BAD_DATA' });
      }
      seen.push(v);
    });
    await until(() => broker.committedOffset('g', 't', 0) === '2');
    expect(attempts).toBe(1);
    expect(seen).toEqual(['good1', 'good2']);
    const [dead] = broker.records('t.dlt');
    expect(dead!.value!.toString()).toBe('poison');
    expect(dead!.key!.toString()).toBe('k');
    expect(dead!.headers).toMatchObject({
      ce_id: 'poison',
      [DltHeader.topic]: 't',
      [DltHeader.partition]: '0',
      [DltHeader.offset]: '1',
      [DltHeader.group]: 'g',
      [DltHeader.errorClass]: 'Error',
      [DltHeader.errorCode]: 'BAD_DATA',
      [DltHeader.errorMessage]: 'invalid data',
      [DltHeader.attempts]: '1',
    });
  });

  it('gives an error of unknown kind a bounded number of attempts before dead-lettering it', async () => {
    broker = new InMemoryBroker();
    let attempts = 0;
    await send(['x']);
    await consume(async () => {
      attempts++;
      throw new TypeError('bug');
    });
    await until(() => broker.records('t.dlt').length === 1);
    expect(attempts).toBe(3);
    expect(broker.records('t.dlt')[0]!.headers[DltHeader.attempts]).toBe('3');
  });

  it('keeps retrying the dead-letter write rather than losing the record', async () => {
    broker = new InMemoryBroker();
    await send(['poison']);
    broker.failNextSends = 2;
    await consume(async () => {
      throw Object.assign(new Error('bad'), { retriable: false });
    });
    await until(() => broker.records('t.dlt').length === 1);
    expect(broker.committedOffset('g', 't', 0)).toBe('0');
  });

  it('in batch mode hands the whole batch over, and isolates a poison record on a permanent failure', async () => {
    broker = new InMemoryBroker();
    const batches: string[][] = [];
    await send(['a', 'bad', 'c']);
    await consume(async (ms: ConsumedMessage<Buffer | null>[]) => {
      const values = ms.map((m) => m.value!.toString());
      if (values.includes('bad')) throw Object.assign(new Error('bad record'), { retriable: false });
      batches.push(values);
    }, 'batch');
    await until(() => broker.committedOffset('g', 't', 0) === '2');
    expect(batches).toEqual([['a'], ['c']]);
    expect(broker.records('t.dlt').map((r) => r.value!.toString())).toEqual(['bad']);
  });
});

describe('deadLetterMessage', () => {
  it('masks emails (also URL-encoded) and personal DN values in the error message header', () => {
    const record = { topic: 't', partition: 0, offset: '5', key: Buffer.from('p-1'), value: Buffer.from('x'), headers: {}, timestamp: '0' } as unknown as Parameters<typeof deadLetterMessage>[0];
    const err = Object.assign(new Error('GET /Users?filter=userName%20eq%20%22ada%40example.org%22 answered 400; modify uid=ada,ou=people,dc=corp'), { code: 'TARGET_REJECTED' });
    const message = deadLetterMessage(record, err, 1, 'g').headers[DltHeader.errorMessage]!;
    expect(message).not.toMatch(/ada|example\.org/);
    expect(message).toContain('ou=people,dc=corp');
  });
});
