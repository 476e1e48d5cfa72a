import { avroCodec, type SchemaName, type SchemaTypeMap } from '@provisio/contracts';
import { quoteIdent, type SqlClient } from '@provisio/persistence';
import { AVRO_CONTENT_TYPE, envelopeHeaders, extractTraceContext, injectTraceContext } from '../envelope.js';
import type { Headers } from '../port.js';
import { uuidv7 } from '../ids.js';

export interface OutboxMessage<N extends SchemaName = SchemaName> {
  /** Logical topic, e.g. hr.lifecycle. */
  topic: string;
  /** Kafka key: the personId. */
  key: string;
  aggregateType: string;
  /** CloudEvents type. */
  type: string;
  schema: N;
  value: SchemaTypeMap[N];
  /** Event id; generated (UUIDv7) when absent. Consumers deduplicate on it. */
  id?: string;
  time?: Date;
  /**
   * Headers of the incoming record this message follows from: its trace continues that one's
   * (for batch handlers, where the active span belongs to the whole batch). Default: the active context.
   */
  traceHeaders?: Headers;
}

/**
 * Writes events into the service's outbox inside the caller's transaction. The relay publishes
 * them after commit; nothing is published for a transaction that rolls back.
 *
 * Ordering contract: rows of one key are published in id order. Callers serialize writes per
 * aggregate (they lock the aggregate's row first), so per-key commit order equals id order.
 */
export class OutboxWriter {
  private readonly table: string;
  private readonly channel: string;

  constructor(
    schema: string,
    private readonly source: string,
  ) {
    this.table = `${quoteIdent(schema)}.outbox`;
    this.channel = outboxChannel(schema);
  }

  async enqueue(sql: SqlClient, messages: OutboxMessage[]): Promise<string[]> {
    if (messages.length === 0) return [];
    const codec = avroCodec();
    const cols = {
      id: [] as string[],
      at: [] as string[],
      aid: [] as string[],
      type: [] as string[],
      topic: [] as string[],
      payload: [] as Buffer[],
      headers: [] as string[],
    };
    for (const m of messages) {
      const id = m.id ?? uuidv7();
      const headers = injectTraceContext(
        envelopeHeaders({
          id,
          type: m.type,
          source: this.source,
          subject: m.key,
          time: (m.time ?? new Date()).toISOString(),
          contentType: AVRO_CONTENT_TYPE,
          dataschema: `urn:provisio:schema:${m.schema}:${codec.fingerprintOf(m.schema)}`,
        }),
        m.traceHeaders ? extractTraceContext(m.traceHeaders) : undefined,
      );
      cols.id.push(id);
      cols.at.push(m.aggregateType);
      cols.aid.push(m.key);
      cols.type.push(m.type);
      cols.topic.push(m.topic);
      cols.payload.push(codec.encode(m.schema, m.value as never));
      cols.headers.push(JSON.stringify(headers));
    }
    await sql.query(
      `INSERT INTO ${this.table} (event_id, aggregatetype, aggregateid, type, topic, payload, headers)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[])`,
      [cols.id, cols.at, cols.aid, cols.type, cols.topic, cols.payload, cols.headers],
    );
    await sql.query('SELECT pg_notify($1, $2)', [this.channel, '']);
    return cols.id;
  }
}

export function outboxChannel(schema: string): string {
  return `provisio_outbox_${schema}`.slice(0, 63);
}
