import { SpanKind, type Link, trace } from '@opentelemetry/api';
import { counter, failSpan, histogram, tracer } from '@provisio/observability';
import { quoteIdent } from '@provisio/persistence';
import type pg from 'pg';
import type { Logger } from 'pino';
import { extractTraceContext } from '../envelope.js';
import type { Headers, MessageBroker, OutgoingMessage } from '../port.js';
import { outboxChannel } from './outbox-writer.js';

export interface OutboxRelayOptions {
  pool: pg.Pool;
  schema: string;
  broker: MessageBroker;
  logger: Logger;
  batchSize?: number;
  /** Poll interval when no notification arrives (notifications make it immediate). */
  pollIntervalMs?: number;
}

interface Row {
  id: string;
  aggregateid: string;
  topic: string;
  payload: Buffer;
  headers: Headers;
  created_at: Date;
}

const published = counter('provisio_outbox_published_total', 'Outbox rows published to Kafka', ['schema', 'topic']);
const publishErrors = counter('provisio_outbox_publish_errors_total', 'Failed outbox publish attempts', ['schema']);
const delay = histogram('provisio_outbox_delay_seconds', 'Time from outbox insert to publish', ['schema'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]);

/**
 * Publishes committed outbox rows in id order and deletes them. One relay per schema is active
 * at a time (session advisory lock), so per-key order holds across replicas; the others wait as
 * standbys. There is no high-water mark: every pass reads whatever is unpublished, so a
 * transaction that commits after a later id was published is never skipped.
 */
export class OutboxRelay {
  private readonly table: string;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private session: pg.PoolClient | undefined;
  private wake: (() => void) | undefined;
  private leader = false;

  constructor(private readonly o: OutboxRelayOptions) {
    this.table = `${quoteIdent(o.schema)}.outbox`;
    // Written into the statement (a multi-statement query takes no parameters).
    this.batchSize = Math.max(1, Math.floor(Number(o.batchSize ?? 500)));
    this.pollMs = o.pollIntervalMs ?? 500;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops after the batch in flight; unpublished rows stay for the next start. A send that waits
   * for an unreachable broker is abandoned after `graceMs` (closing the broker interrupts it and
   * its rows roll back).
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.running = false;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.releaseSession();
  }

  /** Publishes until the outbox is empty (tests, shutdown). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        if (!this.leader && !(await this.acquireLeadership())) {
          await this.idle(2000);
          continue;
        }
        const n = await this.publishOnce();
        backoff = 100;
        if (n < this.batchSize) await this.idle(this.pollMs);
      } catch (e) {
        publishErrors.inc({ schema: this.o.schema });
        this.o.logger.warn({ err: e, schema: this.o.schema }, 'outbox publish failed; will retry');
        if (!this.session) this.leader = false;
        await this.idle(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async acquireLeadership(): Promise<boolean> {
    await this.releaseSession();
    const session = await this.o.pool.connect();
    try {
      const r = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`provisio:outbox-relay:${this.o.schema}`]);
      if (!r.rows[0]?.ok) {
        session.release();
        return false;
      }
      session.on('notification', () => this.wake?.());
      session.on('error', (e) => {
        this.o.logger.warn({ err: e }, 'outbox relay session lost; giving up leadership');
        this.leader = false;
        this.session = undefined;
      });
      await session.query(`LISTEN ${quoteIdent(outboxChannel(this.o.schema))}`);
      this.session = session;
      this.leader = true;
      this.o.logger.info({ schema: this.o.schema }, 'outbox relay active');
      return true;
    } catch (e) {
      session.release(e as Error);
      throw e;
    }
  }

  private async releaseSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    this.leader = false;
    if (!s) return;
    try {
      await s.query('SELECT pg_advisory_unlock_all()');
      s.release();
    } catch (e) {
      s.release(e as Error);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async publishOnce(): Promise<number> {
    const client = await this.o.pool.connect();
    try {
      // One round trip opens the transaction and takes the batch: the rows are deleted (and so
      // locked until the commit; a failed send rolls the delete back) and returned. Then the
      // send, then the commit: two round trips a pass, where select-then-delete took four.
      const results = (await client.query<Row>(
        `BEGIN; DELETE FROM ${this.table} WHERE id IN (SELECT id FROM ${this.table} ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED)
         RETURNING id, aggregateid, topic, payload, headers, created_at`,
      )) as unknown as pg.QueryResult<Row>[];
      const rows = results[1]!.rows;
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      // DELETE … RETURNING gives no order: ids (bigserial, as decimal strings) are sorted here.
      rows.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      await this.send(rows);
      await client.query('COMMIT');
      const now = Date.now();
      const perTopic = new Map<string, number>();
      for (const r of rows) {
        perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
        delay.observe({ schema: this.o.schema }, (now - r.created_at.getTime()) / 1000);
      }
      for (const [topic, n] of perTopic) published.inc({ schema: this.o.schema, topic }, n);
      return rows.length;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  private async send(rows: Row[]): Promise<void> {
    const messages: OutgoingMessage[] = rows.map((r) => ({ topic: r.topic, key: r.aggregateid, value: r.payload, headers: r.headers }));
    const topics = [...new Set(rows.map((r) => r.topic))];
    const links: Link[] = [];
    for (const r of rows) {
      const sc = trace.getSpanContext(extractTraceContext(r.headers));
      if (sc && links.length < 128) links.push({ context: sc });
    }
    const span = tracer().startSpan(`send ${topics.length === 1 ? topics[0] : 'multiple'}`, {
      kind: SpanKind.PRODUCER,
      links,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topics.join(','),
        'messaging.batch.message_count': rows.length,
      },
    });
    try {
      await this.o.broker.send(messages);
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      span.end();
    }
  }
}
