import { avroCodec } from '@provisio/contracts';
import { traceIdOf, type ConsumedMessage } from '@provisio/messaging';
import { quoteIdent, type Database } from '@provisio/persistence';

export const AUDIT_STORE = Symbol('AUDIT_STORE');

export interface StoredRecord {
  id: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  ceId: string | null;
  ceType: string | null;
  traceId: string | null;
  payload: unknown;
}

/** Append-only store of Kafka records (walking skeleton: rows and a timeline query). */
export class AuditStore {
  private readonly table: string;

  constructor(
    private readonly db: Database,
    schema: string,
  ) {
    this.table = `${quoteIdent(schema)}.records`;
  }

  /** One multi-row insert per batch; a redelivered record hits the unique key and is ignored. */
  async append(batch: ConsumedMessage<Buffer | null>[]): Promise<number> {
    if (batch.length === 0) return 0;
    const codec = avroCodec();
    const cols = {
      topic: [] as string[], partition: [] as number[], offset: [] as string[], key: [] as (string | null)[], headers: [] as string[],
      payload: [] as (Buffer | null)[], json: [] as (string | null)[], ceId: [] as (string | null)[], ceType: [] as (string | null)[],
      trace: [] as (string | null)[], ts: [] as string[], ceTime: [] as (string | null)[],
    };
    for (const m of batch) {
      let json: string | null = null;
      if (m.value) {
        try {
          json = JSON.stringify(codec.decodeAny(m.value).value);
        } catch {
          json = null; // not ours or not decodable: the raw bytes are still stored
        }
      }
      cols.topic.push(m.topic);
      cols.partition.push(m.partition);
      cols.offset.push(m.offset);
      cols.key.push(m.key);
      cols.headers.push(JSON.stringify(m.headers));
      cols.payload.push(m.value);
      cols.json.push(json);
      cols.ceId.push(m.envelope.id ?? null);
      cols.ceType.push(m.envelope.type ?? null);
      cols.ceTime.push(m.envelope.time && !Number.isNaN(Date.parse(m.envelope.time)) ? m.envelope.time : null);
      cols.trace.push(traceIdOf(m.headers) ?? null);
      cols.ts.push(new Date(m.timestamp).toISOString());
    }
    const r = await this.db.sql.query(
      `INSERT INTO ${this.table} (topic, kafka_partition, kafka_offset, record_key, headers, payload, payload_json, ce_id, ce_type, trace_id, kafka_timestamp, ce_time)
       SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::jsonb[], $6::bytea[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])
       ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING`,
      [cols.topic, cols.partition, cols.offset, cols.key, cols.headers, cols.payload, cols.json, cols.ceId, cols.ceType, cols.trace, cols.ts, cols.ceTime],
    );
    return r.rowCount ?? 0;
  }

  /**
   * A person's records in causal order. Audit receives topics in parallel, so arrival order is
   * not causal; the CloudEvents time of each fact is (each step is written after the one it
   * reacts to), with arrival as the tie-breaker.
   */
  async timeline(personId: string, limit = 500): Promise<StoredRecord[]> {
    const r = await this.db.sql.query<{
      id: string; topic: string; kafka_partition: number; kafka_offset: string; record_key: string | null; ce_id: string | null; ce_type: string | null; trace_id: string | null; payload_json: unknown;
    }>(`SELECT id, topic, kafka_partition, kafka_offset, record_key, ce_id, ce_type, trace_id, payload_json FROM ${this.table} WHERE record_key = $1 ORDER BY COALESCE(ce_time, kafka_timestamp), id LIMIT $2`, [personId, limit]);
    return r.rows.map((x) => ({
      id: x.id, topic: x.topic, partition: x.kafka_partition, offset: x.kafka_offset, key: x.record_key, ceId: x.ce_id, ceType: x.ce_type, traceId: x.trace_id, payload: x.payload_json,
    }));
  }
}
