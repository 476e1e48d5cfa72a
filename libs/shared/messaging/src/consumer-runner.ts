import { SpanKind, context, trace, type Link } from '@opentelemetry/api';
import { avroCodec, deadLetterTopic, type SchemaName } from '@provisio/contracts';
import { counter, failSpan, gauge, histogram, scrubString, tracer } from '@provisio/observability';
import type { Logger } from 'pino';
import { extractTraceContext, parseEnvelope, type EventEnvelope } from './envelope.js';
import { classifyByFlag, type ErrorClass } from './messaging-error.js';
import type { BatchControls, BatchListener, Headers, InboundRecord, MessageBroker, OutgoingMessage, PartitionBatch } from './port.js';

export interface ConsumedMessage<T = unknown> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  envelope: Partial<EventEnvelope>;
  headers: Headers;
  /** Decoded value when the subscription names a schema, else the raw bytes. */
  value: T;
  /** The record's value bytes as they came (for handlers that store or dead-letter a record later). */
  raw?: Buffer | null;
  timestamp: number;
}

export interface ConsumeContext {
  groupId: string;
  attempt: number;
  heartbeat(): Promise<void>;
  /** False once the partition was revoked or the consumer is stopping: stop waiting, give up the batch. */
  isActive(): boolean;
  /**
   * Dead-letters one message of the batch now (original bytes, error headers) and lets the handler
   * go on with the rest: for handlers that settle records one by one (batch mode).
   */
  deadLetter(message: ConsumedMessage, error: unknown): Promise<void>;
}

export type MessageHandler<T = unknown> = (messages: ConsumedMessage<T>[], ctx: ConsumeContext) => Promise<void>;

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** Attempts for errors that do not say whether they are retriable. Transient ones retry forever. */
  unknownErrorAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialDelayMs: 200, maxDelayMs: 30000, multiplier: 2, unknownErrorAttempts: 5 };

export interface ConsumerRunnerOptions {
  groupId: string;
  /** record: handler sees one message at a time; batch: a partition's batch at once (falls back to one at a time on a permanent error). */
  mode: 'record' | 'batch';
  schema?: SchemaName | undefined;
  broker: MessageBroker;
  logger: Logger;
  retry?: Partial<RetryPolicy> | undefined;
  /** Extra classification (e.g. database errors), consulted when the error has no `retriable` flag. */
  classify?: ((e: unknown) => ErrorClass) | undefined;
  /** Commit at least this often during long batches. */
  commitIntervalMs?: number | undefined;
}

/** Header names of dead-lettered records (the original headers are kept too). */
export const DltHeader = {
  topic: 'dlt-original-topic',
  partition: 'dlt-original-partition',
  offset: 'dlt-original-offset',
  group: 'dlt-consumer-group',
  errorClass: 'dlt-error-class',
  errorCode: 'dlt-error-code',
  errorMessage: 'dlt-error-message',
  attempts: 'dlt-attempts',
  failedAt: 'dlt-failed-at',
} as const;

/**
 * The dead letter of a record: `<topic>.dlt`, the original key, bytes and headers, plus headers
 * saying where it came from and why it failed. Also for handlers that dead-letter a record they
 * stored earlier (the connector kit's parked commands).
 */
export function deadLetterMessage(r: InboundRecord, error: unknown, attempts: number, groupId: string, failedAt: Date = new Date()): OutgoingMessage {
  const err = error as { name?: string; code?: unknown; message?: string };
  const headers: Headers = {
    ...r.headers,
    [DltHeader.topic]: r.topic,
    [DltHeader.partition]: String(r.partition),
    [DltHeader.offset]: r.offset,
    [DltHeader.group]: groupId,
    [DltHeader.errorClass]: err?.name ?? 'Error',
    [DltHeader.errorCode]: typeof err?.code === 'string' ? err.code : '',
    // Headers are read by anyone who may read the dead-letter topic: emails and personal DN/filter values masked.
    [DltHeader.errorMessage]: scrubString(String(err?.message ?? error)).slice(0, 1000),
    [DltHeader.attempts]: String(attempts),
    [DltHeader.failedAt]: failedAt.toISOString(),
  };
  return { topic: deadLetterTopic(r.topic), key: r.key ? r.key.toString('utf8') : null, value: r.value, headers };
}

const consumed = counter('provisio_messages_consumed_total', 'Messages handled, by outcome', ['group', 'topic', 'outcome']);
const retries = counter('provisio_message_retries_total', 'Handler attempts that failed and will be retried', ['group', 'topic', 'error_class']);
const processing = histogram('provisio_message_processing_seconds', 'Handler time per message or batch', ['group', 'topic', 'mode']);
const lagGauge = gauge('provisio_consumer_lag', 'Records behind the partition end at the last fetch', ['group', 'topic', 'partition']);

class Aborted extends Error {}

type Outcome = { ok: true } | { ok: false; error: unknown; attempts: number };

/**
 * Builds the port-level listener that gives every subscription the same guarantees: decode,
 * `process <topic>` spans, retries with backoff and jitter for transient errors (heartbeating,
 * never leaving a record behind), dead letters for permanent ones, offsets committed only after
 * the handler returned.
 */
export function createBatchListener<T>(handler: MessageHandler<T>, options: ConsumerRunnerOptions): BatchListener {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const commitEvery = options.commitIntervalMs ?? 5000;
  const classify = (e: unknown): ErrorClass => {
    const byFlag = classifyByFlag(e);
    return byFlag !== 'unknown' ? byFlag : (options.classify?.(e) ?? 'unknown');
  };

  // The record each decoded message came from, for ctx.deadLetter (original bytes and headers).
  const origins = new WeakMap<object, InboundRecord>();
  const decode = (r: InboundRecord): ConsumedMessage<T> => {
    const message: ConsumedMessage<T> = {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key ? r.key.toString('utf8') : null,
      envelope: parseEnvelope(r.headers),
      headers: r.headers,
      value: (options.schema ? avroCodec().decode(options.schema, r.value ?? Buffer.alloc(0)) : r.value) as T,
      raw: r.value,
      timestamp: r.timestamp,
    };
    origins.set(message, r);
    return message;
  };
  const contextFor = (attempt: number, controls: BatchControls): ConsumeContext => ({
    groupId: options.groupId,
    attempt,
    heartbeat: controls.heartbeat,
    isActive: controls.isActive,
    deadLetter: async (message, error) => {
      const r = origins.get(message);
      if (!r) throw new Error('deadLetter: the message is not one of this batch');
      await deadLetter(r, error, attempt, controls);
    },
  });

  async function sleep(ms: number, controls: BatchControls): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!controls.isActive()) throw new Aborted();
      await controls.heartbeat().catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
    }
    if (!controls.isActive()) throw new Aborted();
  }

  async function attemptLoop(fn: (attempt: number) => Promise<void>, where: { topic: string; partition: number; offset: string }, controls: BatchControls): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await fn(attempt);
        return { ok: true };
      } catch (e) {
        if (e instanceof Aborted) throw e;
        const cls = classify(e);
        if (cls === 'permanent' || (cls === 'unknown' && attempt >= retry.unknownErrorAttempts)) return { ok: false, error: e, attempts: attempt };
        retries.inc({ group: options.groupId, topic: where.topic, error_class: cls });
        const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * retry.multiplier ** (attempt - 1));
        const delay = base / 2 + Math.random() * (base / 2);
        if (attempt === 1 || attempt % 10 === 0) {
          options.logger.warn({ err: e, group: options.groupId, ...where, attempt, delayMs: Math.round(delay) }, 'handler failed; retrying');
        }
        await sleep(delay, controls);
      }
    }
  }

  async function deadLetter(r: InboundRecord, error: unknown, attempts: number, controls: BatchControls): Promise<void> {
    // Losing the record is not an option: keep trying the dead-letter write while we own the partition.
    const outcome = await attemptLoop(
      () => options.broker.send([deadLetterMessage(r, error, attempts, options.groupId)]),
      r,
      controls,
    );
    if (!outcome.ok) throw new Aborted();
    options.logger.error({ err: error, group: options.groupId, topic: r.topic, partition: r.partition, offset: r.offset, attempts }, 'record dead-lettered');
    consumed.inc({ group: options.groupId, topic: r.topic, outcome: 'dead_lettered' });
  }

  async function processOne(r: InboundRecord, controls: BatchControls): Promise<void> {
    const parent = extractTraceContext(r.headers);
    const span = tracer().startSpan(
      `process ${r.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': r.topic,
          'messaging.destination.partition.id': String(r.partition),
          'messaging.kafka.offset': Number(r.offset),
          'messaging.consumer.group.name': options.groupId,
          ...(r.headers['ce_id'] ? { 'messaging.message.id': r.headers['ce_id'] } : {}),
        },
      },
      parent,
    );
    const started = process.hrtime.bigint();
    try {
      await context.with(trace.setSpan(parent, span), async () => {
        let message: ConsumedMessage<T>;
        try {
          message = decode(r);
        } catch (e) {
          failSpan(span, e);
          await deadLetter(r, e, 1, controls);
          return;
        }
        const outcome = await attemptLoop((attempt) => handler([message], contextFor(attempt, controls)), r, controls);
        if (outcome.ok) consumed.inc({ group: options.groupId, topic: r.topic, outcome: 'ok' });
        else {
          failSpan(span, outcome.error);
          await deadLetter(r, outcome.error, outcome.attempts, controls);
        }
      });
    } finally {
      span.end();
      processing.observe({ group: options.groupId, topic: r.topic, mode: 'record' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async function processBatch(batch: PartitionBatch, controls: BatchControls): Promise<'done' | 'fallback'> {
    const messages: ConsumedMessage<T>[] = [];
    const links: Link[] = [];
    for (const r of batch.records) {
      try {
        messages.push(decode(r));
      } catch {
        return 'fallback';
      }
      if (links.length < 128) {
        const sc = trace.getSpanContext(extractTraceContext(r.headers));
        if (sc) links.push({ context: sc });
      }
    }
    const span = tracer().startSpan(`process ${batch.topic}`, {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': batch.topic,
        'messaging.destination.partition.id': String(batch.partition),
        'messaging.batch.message_count': messages.length,
        'messaging.consumer.group.name': options.groupId,
      },
    });
    const started = process.hrtime.bigint();
    try {
      const first = batch.records[0]!;
      const outcome = await context.with(trace.setSpan(context.active(), span), () =>
        attemptLoop((attempt) => handler(messages, contextFor(attempt, controls)), first, controls),
      );
      if (outcome.ok) {
        consumed.inc({ group: options.groupId, topic: batch.topic, outcome: 'ok' }, messages.length);
        return 'done';
      }
      failSpan(span, outcome.error);
      options.logger.warn({ err: outcome.error, group: options.groupId, topic: batch.topic, partition: batch.partition }, 'batch failed permanently; isolating the bad record');
      return 'fallback';
    } finally {
      span.end();
      processing.observe({ group: options.groupId, topic: batch.topic, mode: 'batch' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  return async (batch, controls) => {
    lagGauge.set({ group: options.groupId, topic: batch.topic, partition: String(batch.partition) }, batch.lag);
    let done: string | undefined;
    let lastCommit = Date.now();
    const commit = async () => {
      if (done !== undefined) await controls.commit(done);
      lastCommit = Date.now();
    };
    try {
      if (options.mode === 'batch' && (await processBatch(batch, controls)) === 'done') {
        done = batch.records.at(-1)!.offset;
      } else {
        for (const r of batch.records) {
          if (!controls.isActive()) break;
          await processOne(r, controls);
          done = r.offset;
          if (Date.now() - lastCommit > commitEvery) await commit();
        }
      }
    } catch (e) {
      if (!(e instanceof Aborted)) throw e;
      options.logger.info({ group: options.groupId, topic: batch.topic, partition: batch.partition }, 'partition revoked or stopping; leaving the rest of the batch');
    }
    if (done !== undefined && controls.isActive()) await commit();
    else if (done !== undefined) await commit().catch(() => undefined);
  };
}
