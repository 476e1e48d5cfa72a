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
    const ids: string[] = [];
    const rows = messages.map((m) => {
      const id = m.id ?? uuidv7();
      ids.push(id);
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
      return { i: id, a: m.aggregateType, k: m.key, t: m.type, tp: m.topic, p: codec.encode(m.schema, m.value as never).toString('base64'), h: headers };
    });
    // One JSON document (payloads in base64) is cheaper to send than seven array parameters,
    // which pg escapes element by element; rows keep their order (ids are per-key order).
    await sql.query(
      `INSERT INTO ${this.table} (event_id, aggregatetype, aggregateid, type, topic, payload, headers)
       SELECT x.i, x.a, x.k, x.t, x.tp, decode(x.p, 'base64'), x.h
       FROM ROWS FROM (json_to_recordset($1::json) AS (i uuid, a text, k text, t text, tp text, p text, h jsonb)) WITH ORDINALITY AS x(i, a, k, t, tp, p, h, n)
       ORDER BY x.n`,
      [JSON.stringify(rows)],
    );
    await sql.query('SELECT pg_notify($1, $2)', [this.channel, '']);
    return ids;
  }
}

export function outboxChannel(schema: string): string {
  return `provisio_outbox_${schema}`.slice(0, 63);
}
