import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { createLogger } from '@provisio/observability';
import { Writable } from 'node:stream';
import { DltHeader, InMemoryBroker, KafkaSubscribe, KafkaTransport, MessagingError, MessagingErrorCode, type ConsumedMessage } from '../src/index.js';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const calls: Record<string, number> = {};

@Controller()
class Handlers {
  @KafkaSubscribe({ group: 'g-permanent', topics: ['permanent'], retry: { initialDelayMs: 1, maxDelayMs: 2 } })
  async permanent(@Payload() m: ConsumedMessage<Buffer>): Promise<void> {
    calls['permanent'] = (calls['permanent'] ?? 0) + 1;
    throw new MessagingError(MessagingErrorCode.DecodeFailed, `cannot use ${m.value.toString()}`, false);
  }

  @KafkaSubscribe({ group: 'g-transient', topics: ['transient'], retry: { initialDelayMs: 1, maxDelayMs: 2, unknownErrorAttempts: 2 } })
  async transient(): Promise<void> {
    calls['transient'] = (calls['transient'] ?? 0) + 1;
    if (calls['transient'] <= 6) throw Object.assign(new Error('connection reset'), { retriable: true });
  }

  @KafkaSubscribe({ group: 'g-db', topics: ['db'], retry: { initialDelayMs: 1, maxDelayMs: 2, unknownErrorAttempts: 2 } })
  async db(): Promise<void> {
    calls['db'] = (calls['db'] ?? 0) + 1;
    // A PostgreSQL deadlock: no retriable flag, classified by its SQLSTATE.
    if (calls['db'] <= 4) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Through Nest, the way services run (an HTTP app with the transport connected): handler errors
 * must reach the consumer runner unchanged, or retry and dead-letter decisions are wrong.
 */
describe('KafkaTransport inside a Nest application', () => {
  let app: INestApplication | undefined;
  let broker: InMemoryBroker;

  afterEach(async () => {
    await app?.close();
    await broker.close();
    for (const k of Object.keys(calls)) delete calls[k];
  });

  async function start(): Promise<void> {
    broker = new InMemoryBroker();
    const transport = new KafkaTransport({ broker, logger, classify: (e) => ((e as { code?: string }).code === '40P01' ? 'transient' : 'unknown') });
    app = await NestFactory.create(TestModule, { logger: false });
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: false });
    await app.init();
    await app.startAllMicroservices();
  }

  it('dead-letters a non-retriable error after one attempt, with its own class, code and message', async () => {
    await start();
    await broker.send([{ topic: 'permanent', key: 'p1', value: Buffer.from('x'), headers: {} }]);
    await until(() => broker.records('permanent.dlt').length === 1);
    expect(calls['permanent']).toBe(1);
    expect(broker.records('permanent.dlt')[0]!.headers).toMatchObject({
      [DltHeader.errorClass]: 'MessagingError',
      [DltHeader.errorCode]: MessagingErrorCode.DecodeFailed,
      [DltHeader.errorMessage]: 'cannot use x',
      [DltHeader.attempts]: '1',
    });
  });

  it('retries a retriable error in place past the unknown-error budget, never dead-lettering it', async () => {
    await start();
    await broker.send([{ topic: 'transient', key: 'p1', value: Buffer.from('x'), headers: {} }]);
    await until(() => broker.committedOffset('g-transient', 'transient', 0) === '0');
    expect(calls['transient']).toBe(7);
    expect(broker.records('transient.dlt')).toHaveLength(0);
  });

  it('lets the platform classify errors by their properties (a deadlock is transient)', async () => {
    await start();
    await broker.send([{ topic: 'db', key: 'p1', value: Buffer.from('x'), headers: {} }]);
    await until(() => broker.committedOffset('g-db', 'db', 0) === '0');
    expect(calls['db']).toBe(5);
    expect(broker.records('db.dlt')).toHaveLength(0);
  });
});
