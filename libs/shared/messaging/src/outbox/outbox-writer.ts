import { avroCodec, type SchemaName, type SchemaTypeMap } from '@provisio/contracts';
import { quoteIdent, type SqlClient } from '@provisio/persistence';
import { AVRO_CONTENT_TYPE, CE_SPECVERSION, CeHeader, extractTraceContext, injectTraceContext } from '../envelope.js';
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

  /**
   * `alongside`: another data-modifying statement (placeholders $1..$n of its own values) run in
   * the same statement, as a CTE before the insert: one round trip for both (the connector kit's
   * applied state and its results).
   */
  async enqueue(sql: SqlClient, messages: OutboxMessage[], alongside?: { text: string; values: unknown[] }): Promise<string[]> {
    if (messages.length === 0) {
      if (alongside) await sql.query(alongside.text, alongside.values);
      return [];
    }
    const codec = avroCodec();
    const ids: string[] = [];
    const rows = messages.map((m) => {
      const id = m.id ?? uuidv7();
      ids.push(id);
      // Trace context (and nothing else) varies beyond what the columns carry already.
      const trace = injectTraceContext({}, m.traceHeaders ? extractTraceContext(m.traceHeaders) : undefined);
      return {
        i: id,
        a: m.aggregateType,
        k: m.key,
        t: m.type,
        tp: m.topic,
        p: codec.encode(m.schema, m.value as never).toString('base64'),
        tm: (m.time ?? new Date()).toISOString(),
        ds: `urn:provisio:schema:${m.schema}:${codec.fingerprintOf(m.schema)}`,
        ...(Object.keys(trace).length > 0 ? { h: trace } : {}),
      };
    });
    const before = alongside?.values.length ?? 0;
    const $ = (n: number) => `$${n + before}`;
    // One JSON document (payloads in base64) is cheaper to send than seven array parameters,
    // which pg escapes element by element; rows keep their order (ids are per-key order). The
    // CloudEvents headers are assembled here from the row's own columns (the same JSON object
    // envelopeHeaders builds, stored as jsonb), so each row sends only what varies; the
    // relay's wake-up goes in the same round trip (delivered at commit).
    await sql.query(
      `WITH ${alongside ? `alongside AS (${alongside.text}), ` : ''}ins AS (
         INSERT INTO ${this.table} (event_id, aggregatetype, aggregateid, type, topic, payload, headers)
         SELECT x.i::uuid, x.a, x.k, x.t, x.tp, decode(x.p, 'base64'),
           jsonb_build_object(${$(2)}::text, ${$(3)}::text, ${$(4)}::text, x.i, ${$(5)}::text, x.t, ${$(6)}::text, ${$(7)}::text, ${$(8)}::text, x.tm, ${$(9)}::text, ${$(10)}::text)
             || CASE WHEN x.k <> '' THEN jsonb_build_object(${$(11)}::text, x.k) ELSE '{}'::jsonb END
             || CASE WHEN x.ds <> '' THEN jsonb_build_object(${$(12)}::text, x.ds) ELSE '{}'::jsonb END
             || coalesce(x.h, '{}'::jsonb)
         FROM ROWS FROM (json_to_recordset(${$(1)}::json) AS (i text, a text, k text, t text, tp text, p text, tm text, ds text, h jsonb)) WITH ORDINALITY AS x(i, a, k, t, tp, p, tm, ds, h, n)
         ORDER BY x.n
         RETURNING 1
       )
       SELECT pg_notify(${$(13)}, '') FROM (SELECT count(*) FROM ins) c`,
      [
        ...(alongside?.values ?? []),
        JSON.stringify(rows),
        CeHeader.specversion,
        CE_SPECVERSION,
        CeHeader.id,
        CeHeader.type,
        CeHeader.source,
        this.source,
        CeHeader.time,
        CeHeader.contentType,
        AVRO_CONTENT_TYPE,
        CeHeader.subject,
        CeHeader.dataschema,
        this.channel,
      ],
    );
    return ids;
  }
}

export function outboxChannel(schema: string): string {
  return `provisio_outbox_${schema}`.slice(0, 63);
}
