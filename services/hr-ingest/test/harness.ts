import { Topics, avroCodec, type LifecycleEvent } from '@provisio/contracts';
import type { RunningService } from '@provisio/platform';
import { createTestDatabase, mintToken, serviceTestEnv, testKafka, uniqueId, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import type { Consumer } from 'kafkajs';
import { bootstrap } from '../src/bootstrap.js';

export interface ConsumedEvent {
  key: string;
  headers: Record<string, string>;
  value: LifecycleEvent;
}

/**
 * hr-ingest booted in-process through its real bootstrap() on the real broker and PostgreSQL (a
 * fresh database and topic prefix), with a consumer collecting everything on hr.lifecycle.
 */
export class HrIngestHarness {
  service!: RunningService;
  db!: TestDatabase;
  prefix!: string;
  token!: string;
  readToken!: string;
  readonly events: ConsumedEvent[] = [];
  private consumer: Consumer | undefined;

  private extraEnv: Record<string, string> = {};
  readonly replicas: RunningService[] = [];

  static async start(extraEnv: Record<string, string> = {}): Promise<HrIngestHarness> {
    const h = new HrIngestHarness();
    h.extraEnv = extraEnv;
    h.db = await createTestDatabase('hringest');
    h.prefix = uniqueTopicPrefix();
    h.service = await h.instance();
    h.token = await mintToken(['hr:write', 'hr:read']);
    h.readToken = await mintToken(['hr:read']);
    h.consumer = testKafka('hr-ingest-test').consumer({ groupId: uniqueId('hr-test-'), maxWaitTimeInMs: 100 });
    await h.consumer.connect();
    await h.consumer.subscribe({ topic: `${h.prefix}${Topics.lifecycle}`, fromBeginning: true });
    await h.consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        h.events.push({ key: message.key!.toString(), headers, value: avroCodec().decode('LifecycleEvent', message.value!) });
      },
    });
    return h;
  }

  get url(): string {
    return this.service.url;
  }

  /** Another hr-ingest process-alike on the same database and topics (a replica, or a restart). */
  async instance(extraEnv: Record<string, string> = {}): Promise<RunningService> {
    return bootstrap(serviceTestEnv({ databaseUrl: this.db.url, topicPrefix: this.prefix, extra: { HR_SCHEDULER_POLL_MS: '200', ...this.extraEnv, ...extraEnv } }));
  }

  async replica(extraEnv: Record<string, string> = {}): Promise<RunningService> {
    const r = await this.instance(extraEnv);
    this.replicas.push(r);
    return r;
  }

  /** Graceful stop of the main instance, then a fresh one on the same database. */
  async restart(extraEnv: Record<string, string> = {}, whileDown?: () => Promise<void>): Promise<void> {
    await this.service.close();
    await whileDown?.();
    this.service = await this.instance(extraEnv);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    for (const r of this.replicas.splice(0)) await r.close().catch(() => undefined);
    await this.service?.close().catch(() => undefined);
    await this.db?.drop();
  }

  /** Waits until `n` events satisfy the predicate (hard timeout) and returns them. */
  async eventsWhere(predicate: (e: LifecycleEvent) => boolean, n = 1, timeoutMs = 20_000): Promise<LifecycleEvent[]> {
    return waitFor(
      async () => {
        const hits = this.events.map((e) => e.value).filter(predicate);
        return hits.length >= n ? hits : undefined;
      },
      { timeoutMs, what: `${n} lifecycle event(s) (have ${this.events.length} in total)` },
    );
  }

  eventsOf(personId: string): LifecycleEvent[] {
    return this.events.filter((e) => e.key === personId).map((e) => e.value);
  }

  /** Waits until nothing is left in the outbox, then a little longer for the consumer. */
  async settle(): Promise<void> {
    await waitFor(async () => Number((await this.db.query<{ n: string }>('SELECT count(*) AS n FROM hr_ingest.outbox'))[0]!.n) === 0, { what: 'outbox drained' });
    const seen = this.events.length;
    await new Promise((r) => setTimeout(r, 600));
    if (this.events.length !== seen) await this.settle();
  }

  async request(method: string, path: string, o: { body?: unknown; raw?: string | Buffer; contentType?: string; token?: string | null; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? this.token : o.token;
    if (token) headers['authorization'] = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
    const res = await fetch(`${this.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> & { [k: string]: unknown } };
  }

  async count(table: string): Promise<number> {
    return Number((await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM hr_ingest.${table}`))[0]!.n);
  }
}
